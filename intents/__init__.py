"""Understanding resident messages: text → (intent, category, confidence, slots).

jieba segmentation with a domain user dictionary, a keyword lexicon kept as data
(``lexicon.toml``) and rule-based slot extraction. Entry point: ``Classifier.classify``.
"""
