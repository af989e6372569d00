"""gridbot: the WeChat official-account bot of a grid-managed community.

Data flow: bot.webhook → intents → handlers → storage → bot.worker (pushes, timers).
"""
