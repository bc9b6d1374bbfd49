"""Which strings are one emoji, and the one spelling each is stored under.

Unicode's emoji list (emoji-test.txt, as the `emoji` package ships it) names every emoji,
those of several code points included: skin tones (👍🏽), ZWJ sequences (👩🏽‍💻, 👨‍👩‍👧),
flags (🇫🇷, 🏴󠁧󠁢󠁳󠁣󠁴󠁿), keycaps (1️⃣). Many are listed in shorter spellings too, without the
variation selector that asks for emoji presentation (❤ beside ❤️, 1⃣ beside 1️⃣): those are
accepted and stored fully qualified, so that ❤ and ❤️ are one reaction, not two. A
component on its own (a skin-tone swatch 🏽, a hair style) is not something to react with.
"""

import emoji

# Room for sequences longer than today's longest (10 code points): Unicode adds new ones
# every year, and a newer client may send them before the list here knows them.
EMOJI_MAX_LENGTH = 32

_STATUS = emoji.STATUS


def _canonical_spellings() -> dict[str, str]:
    """Every accepted spelling, mapped to its fully qualified one (itself, for those)."""
    fully_qualified = {
        data["en"]: text
        for text, data in emoji.EMOJI_DATA.items()
        if data["status"] == _STATUS["fully_qualified"]
    }
    return {
        text: fully_qualified[data["en"]]
        for text, data in emoji.EMOJI_DATA.items()
        if data["status"] != _STATUS["component"]
    }


_CANONICAL = _canonical_spellings()


def canonical_emoji(text: str) -> str | None:
    """`text` as stored if it is exactly one emoji (any qualification), else None."""
    return _CANONICAL.get(text)
