"""Free text made fit for the public: what Open311's anonymous GET shows of a ticket.

``services.privacy.scrub`` masks what a resident's own rows must lose when they leave (phones,
addresses, coordinates, a child's name). Text shown to anyone on the internet needs more, so
``public_text`` runs ``scrub`` and then also masks, each as ``privacy.MASK``:

- e-mail addresses and the account after 微信/vx/wx/QQ (「微信 zhangsan_88」);
- every run of 3 or more digits, ASCII or full-width (rooms 「楼上502」, numbers spaced out),
  and of 3 or more Chinese numerals (「六零一」, 「一三八一二三四五六七八」): building and unit
  numbers of one or two digits stay (「3号楼」);
- a common surname with one or two characters standing alone after 的/是/找 … before a
  punctuation mark (「我是3号楼501的张三，」);
- a name after a cue (我是/我叫/本人/联系人/姓名/找/户主/业主 …: 「联系人：王五」) unless it is a
  word such as 业主 or 楼上, and the surname before a form of address (「张先生」 →
  「***先生」, 「刘阿姨」).

Over-masking is the intended failure: an innocent 「三楼以上」 may lose its numerals, a name
never stays. Linear in ``len(text)``.
"""

from __future__ import annotations

import re

from services.privacy import MASK, scrub

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(微信号?|[vV][xX]|[wW][xX]|[qQ]{2}|扣扣)(\s*(?:号码?)?\s*[:：是为]?\s*)[\w.-]+")
_DIGITS = re.compile(r"\d(?:[\s\-]*\d){2,}")
_CN_NUMERALS = re.compile(r"[零〇一二三四五六七八九幺两]{3,}")
_NAME_CUE = re.compile(
    r"(我是|我叫|本人|联系人|姓名|名字是?|找一?下?|户主|业主|报修人|反映人)(\s*[:：是为]?\s*)"
    r"([\u4e00-\u9fff]{2,3})")
_SURNAMES = ("张王李赵刘陈杨黄吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
             "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
             "龚邵万钱严覃武戴莫孔向汤欧阳司马诸葛上官")
_BARE_NAME = re.compile(rf"(?<=[的是叫找和与,，、:：\s])[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}"
                        r"(?=[,，。.!！?？;；、:：()（）\s]|$)")
"""A common surname and one or two characters standing alone between 的/是/找 … and a
punctuation mark (「…501的张三，」)."""
_TITLE = re.compile(r"[\u4e00-\u9fff](?=(?:先生|女士|小姐|阿姨|大爷|大妈|大姐|大哥|师傅|老师|"
                    r"奶奶|爷爷|叔叔|婆婆|老伯|同志))")
NOT_NAMES = frozenset({"业主", "住户", "居民", "租户", "租客", "房东", "楼上", "楼下", "邻居", "隔壁",
                       "对门", "这里", "这边", "本楼", "本人", "我们", "一个", "一位", "物业",
                       "网格员", "社区", "老人", "家属", "志愿者", "残疾人"})
"""Words after a name cue that are not names (「我是业主」 stays as it is)."""


def public_text(text: str | None) -> str | None:
    """``text`` with personal data masked for anonymous readers (module docstring); None
    and "" stay as they are."""
    if not text:
        return text
    text = scrub(text) or ""
    text = _EMAIL.sub(MASK, text)
    text = _HANDLE.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _DIGITS.sub(MASK, text)
    text = _CN_NUMERALS.sub(MASK, text)
    text = _NAME_CUE.sub(_name, text)
    text = _BARE_NAME.sub(lambda m: m.group(0) if m.group(0) in NOT_NAMES else MASK, text)
    return _TITLE.sub(MASK, text)


def _name(match: re.Match[str]) -> str:
    cue, glue, word = match.groups()
    if any(word.startswith(w) for w in NOT_NAMES):
        return match.group(0)
    return cue + glue + MASK
