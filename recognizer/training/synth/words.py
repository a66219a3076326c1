"""Labels for synthetic word crops: the kinds of strings a scene-text recognizer meets.

Every label uses only the 94 printable ASCII characters of the recognizer's charset and has
no white space (the recognizer reads one word per crop). A :class:`TextSampler` draws a kind
of string (dictionary word, number, price, date, ...) by the weights of its
:class:`TextConfig`, then a string of that kind within the length limits. :data:`CURRICULUM`
holds configs from easy (short lowercase/Title words) to everything.
"""

from __future__ import annotations

import bisect
import copy
import functools
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from recognizer.tokenizer import PRINTABLE_ASCII_94

CHARSET = PRINTABLE_ASCII_94
MAX_LENGTH = 25
DICTIONARY_FILES = (
    "/usr/share/dict/american-english",
    "/usr/share/dict/british-english",
    "/usr/share/dict/words",
)
# Used only when no dictionary is installed
# (see recognizer/training/synth/install_training_assets.sh).
_FALLBACK_WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from or"
    " one had by word but not what all were we when your can said there use an each which she do"
    " how their if will up other about out many then them these so some her would make like him"
    " into time has look two more write go see number no way could people my than first water"
    " been call who oil its now find long down day did get come made may part open close exit"
    " sale stop street road hotel bank coffee pizza bar shop market police taxi parking station"
    " restaurant pharmacy school park avenue center city house fresh free new hello world"
).split()

CASES = ("lower", "title", "upper")
MONTHS = ("jan feb mar apr may jun jul aug sep oct nov dec").split()
TLDS = ("com", "org", "net", "de", "co.uk", "io", "fr", "info", "edu", "gov", "nl", "it")


@dataclass(frozen=True)
class TextConfig:
    """What a :class:`TextSampler` draws.

    ``weights`` maps kinds (see :data:`KINDS`) to relative weights; ``case_weights`` maps
    "lower", "title" and "upper" to the weights of the case given to dictionary words.
    """

    weights: Mapping[str, float]
    case_weights: Mapping[str, float] = field(
        default_factory=lambda: {"lower": 0.45, "title": 0.3, "upper": 0.25}
    )
    max_length: int = MAX_LENGTH
    min_length: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown text kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(f"need 1 <= min_length <= max_length, got {self}")
        if sum(self.weights.values()) <= 0:
            raise ValueError("the weights of the text kinds must not all be zero")


@functools.lru_cache(maxsize=4)
def load_dictionary(paths: tuple[str, ...] = DICTIONARY_FILES) -> tuple[str, ...]:
    """Sorted unique alphabetic ASCII words of the dictionaries (accents folded, ``'s`` dropped)."""
    words: set[str] = set()
    for path in paths:
        file = Path(path)
        if not file.is_file():
            continue
        for line in file.read_text(encoding="utf-8", errors="ignore").splitlines():
            word = unicodedata.normalize("NFKD", line.strip()).encode("ascii", "ignore").decode()
            if word.isalpha():  # drops possessives ("cat's"), abbreviations and empty lines
                words.add(word)
    return tuple(sorted(words)) if words else tuple(sorted(set(_FALLBACK_WORDS)))


def _pick(items: Sequence, rng: np.random.Generator):
    return items[int(rng.integers(len(items)))]


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=count))


def _letters(rng: np.random.Generator, count: int, alphabet: str = string.ascii_uppercase) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=count))


class _WeightedChoice:
    """Draws keys by relative weights with one uniform number (rng.choice(p=...) is slow)."""

    def __init__(self, weights: Mapping[str, float]):
        self.keys = [k for k, w in weights.items() if w > 0]
        cumulative = np.cumsum([weights[k] for k in self.keys], dtype=np.float64)
        self.cumulative = (cumulative / cumulative[-1]).tolist()

    def __call__(self, rng: np.random.Generator) -> str:
        return self.keys[
            min(bisect.bisect_right(self.cumulative, rng.random()), len(self.keys) - 1)
        ]


class TextSampler:
    """Draws labels by a :class:`TextConfig`; deterministic for a given generator state."""

    def __init__(self, config: TextConfig | None = None, words: Sequence[str] | None = None):
        self.words = tuple(words) if words is not None else load_dictionary()
        if not self.words:
            raise ValueError("TextSampler needs at least one word")
        self._short_words = tuple(w for w in self.words if len(w) <= 6) or self.words
        self.config = config or CURRICULUM[-1]

    @property
    def config(self) -> TextConfig:
        return self._config

    @config.setter
    def config(self, config: TextConfig) -> None:
        self._config = config
        self._kind = _WeightedChoice(config.weights)
        self._case = _WeightedChoice(config.case_weights)

    def with_config(self, config: TextConfig) -> TextSampler:
        """A sampler with the same words and another config (cheap: the words are shared)."""
        sampler = copy.copy(self)
        sampler.config = config
        return sampler

    def sample(self, rng: np.random.Generator) -> str:
        """One label in the charset, ``min_length <= len <= max_length``, no white space."""
        config = self.config
        for _ in range(20):
            text = KINDS[self._kind(rng)](self, rng)
            if config.min_length <= len(text) <= config.max_length and _in_charset(text):
                return text
        # Rare: the config asks for lengths its kinds seldom give. A random string always fits.
        return random_chars(self, rng)

    def word(self, rng: np.random.Generator, max_length: int | None = None) -> str:
        """A dictionary word in a case drawn from the config's case weights."""
        limit = max_length or self.config.max_length
        pool = self._short_words if limit <= 6 else self.words
        for _ in range(20):
            word = _pick(pool, rng)
            if len(word) <= limit:
                break
        else:
            word = word[:limit]
        return _apply_case(word, self._case(rng))


def _in_charset(text: str) -> bool:
    return all(c in _CHARSET_SET for c in text)


_CHARSET_SET = frozenset(CHARSET)


def _apply_case(word: str, case: str) -> str:
    if case == "upper":
        return word.upper()
    if case == "title":
        return word[:1].upper() + word[1:].lower()
    return word.lower()


# --- kinds of strings ------------------------------------------------------------------------


def dictionary_word(sampler: TextSampler, rng: np.random.Generator) -> str:
    return sampler.word(rng)


def number(sampler: TextSampler, rng: np.random.Generator) -> str:
    style = int(rng.integers(7))
    if style == 0:
        return str(int(rng.integers(0, 10)))
    if style == 1:
        return str(int(rng.integers(10, 10 ** int(rng.integers(2, 7)))))
    if style == 2:
        return f"{int(rng.integers(1000, 10_000_000)):,}"
    if style == 3:
        return f"{rng.uniform(0, 1000):.{int(rng.integers(1, 4))}f}"
    if style == 4:
        return f"{int(rng.integers(1, 101))}%"
    if style == 5:
        value = int(rng.integers(1, 200))
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(
            value % 10 if value % 100 not in (11, 12, 13) else 0
        )
        return f"{value}{suffix or 'th'}"
    return f"{_pick_str(rng, '-+')}{int(rng.integers(1, 1000))}"


def price(sampler: TextSampler, rng: np.random.Generator) -> str:
    amount = float(rng.choice([rng.uniform(0, 20), rng.uniform(0, 200), rng.uniform(0, 5000)]))
    cents = int(rng.integers(3))
    text = f"{amount:,.2f}" if amount >= 1000 and rng.random() < 0.5 else f"{amount:.2f}"
    if cents == 0:
        text = f"{int(amount)}" if rng.random() < 0.5 else f"{int(amount)}.-"
    elif cents == 1:
        text = f"{int(amount)}.99" if rng.random() < 0.5 else text
    form = int(rng.integers(6))
    if form <= 2:
        return f"${text}"
    if form == 3:
        return f"{text}$"
    if form == 4:
        return f"{text}/{_pick(('kg', 'lb', 'ea', 'pc', 'KG', 'L'), rng)}"
    return text


def date(sampler: TextSampler, rng: np.random.Generator) -> str:
    year = int(rng.integers(1950, 2040))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    form = int(rng.integers(7))
    if form == 0:
        return f"{day:02d}/{month:02d}/{year}"
    if form == 1:
        return f"{year}-{month:02d}-{day:02d}"
    if form == 2:
        return f"{day:02d}.{month:02d}.{year % 100:02d}"
    if form == 3:
        return f"{month}/{day}/{year % 100:02d}"
    if form == 4:
        return f"{day}-{_apply_case(MONTHS[month - 1], _pick(CASES, rng))}-{year}"
    if form == 5:
        return f"{_apply_case(MONTHS[month - 1], _pick(CASES, rng))}{day},{year}"
    return f"{year}/{month:02d}"


def clock_time(sampler: TextSampler, rng: np.random.Generator) -> str:
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    form = int(rng.integers(5))
    if form == 0:
        return f"{hour:02d}:{minute:02d}"
    if form == 1:
        suffix = _pick(("am", "pm", "AM", "PM", "a.m.", "p.m."), rng)
        return f"{hour % 12 or 12}:{minute:02d}{suffix}"
    if form == 2:
        return f"{hour:02d}:{minute:02d}:{int(rng.integers(0, 60)):02d}"
    if form == 3:
        return f"{hour}h{minute:02d}"
    return f"{hour:02d}:{minute:02d}-{(hour + 1) % 24:02d}:{minute:02d}"


def phone(sampler: TextSampler, rng: np.random.Generator) -> str:
    form = int(rng.integers(5))
    if form == 0:
        return f"{_digits(rng, 3)}-{_digits(rng, 4)}"
    if form == 1:
        return f"({_digits(rng, 3)}){_digits(rng, 3)}-{_digits(rng, 4)}"
    if form == 2:
        return f"+{int(rng.integers(1, 99))}-{_digits(rng, 2)}-{_digits(rng, 4)}-{_digits(rng, 4)}"
    if form == 3:
        return f"{_digits(rng, 3)}.{_digits(rng, 3)}.{_digits(rng, 4)}"
    return f"0{_digits(rng, int(rng.integers(8, 11)))}"


def postcode(sampler: TextSampler, rng: np.random.Generator) -> str:
    form = int(rng.integers(5))
    if form == 0:
        return _digits(rng, 5)
    if form == 1:
        return f"{_digits(rng, 5)}-{_digits(rng, 4)}"
    if form == 2:  # UK, written without its space
        return f"{_letters(rng, 2)}{_digits(rng, 1)}{_digits(rng, 1)}{_letters(rng, 2)}"
    if form == 3:  # Canada
        return "".join(_letters(rng, 1) + _digits(rng, 1) for _ in range(3))
    return f"{_digits(rng, 4)}{_letters(rng, 2)}"


def product_code(sampler: TextSampler, rng: np.random.Generator) -> str:
    form = int(rng.integers(6))
    if form == 0:
        return f"{_letters(rng, int(rng.integers(1, 4)))}-{_digits(rng, int(rng.integers(2, 6)))}"
    if form == 1:
        return f"{_letters(rng, int(rng.integers(1, 4)))}{_digits(rng, int(rng.integers(1, 5)))}"
    if form == 2:
        return f"{_pick(('SKU', 'No.', 'REF', 'Art.', '#', 'ID:', 'Nr.'), rng)}{_digits(rng, 4)}"
    if form == 3:
        mixed = string.ascii_uppercase + string.digits
        return "-".join(_letters(rng, 4, mixed) for _ in range(int(rng.integers(2, 4))))
    if form == 4:
        return f"{_digits(rng, 2)}{_letters(rng, 1)}{_digits(rng, 3)}"
    return f"{sampler.word(rng, 8).upper()}-{_digits(rng, int(rng.integers(1, 4)))}"


def url(sampler: TextSampler, rng: np.random.Generator) -> str:
    name = sampler.word(rng, 10).lower()
    tld = _pick(TLDS, rng)
    form = int(rng.integers(6))
    if form == 0:
        return f"www.{name}.{tld}"
    if form == 1:
        return f"{name}.{tld}"
    if form == 2:
        return f"{_pick(('http://', 'https://'), rng)}{name}.{tld}"
    if form == 3:
        return f"{name}.{tld}/{sampler.word(rng, 8).lower()}"
    if form == 4:
        return f"@{name}{_digits(rng, int(rng.integers(0, 3)))}"
    return f"#{sampler.word(rng, 12)}"


def email(sampler: TextSampler, rng: np.random.Generator) -> str:
    user = _pick(("info", "contact", "sales", "hello", "mail", "office"), rng)
    if rng.random() < 0.5:
        user = sampler.word(rng, 8).lower() + _pick(("", ".", "_"), rng) + _digits(rng, 2)
    return f"{user}@{sampler.word(rng, 8).lower()}.{_pick(TLDS, rng)}"


_WRAPS = ("()", '""', "''", "[]", "{}", "<>", "**", "__", "--", "``")
_TRAILING = ".,!?:;'\"%)*-~+"
_LEADING = "(\"'#*-$@&<[{~+"


def punctuated_word(sampler: TextSampler, rng: np.random.Generator) -> str:
    form = int(rng.integers(8))
    word = sampler.word(rng, 12)
    if form <= 2:
        return word + _pick_str(rng, _TRAILING) * (1 if rng.random() < 0.85 else 3)
    if form == 3:
        return _pick_str(rng, _LEADING) + word
    if form == 4:
        left, right = _pick(_WRAPS, rng)
        return f"{left}{word}{right}"
    if form == 5:  # contractions and possessives
        stem = sampler.word(rng, 8)
        tail = _pick(("'s", "'t", "'ll", "'re", "'ve", "'d", "n't", "s'"), rng)
        return stem + (tail.upper() if stem.isupper() else tail)
    if form == 6:
        joiner = _pick_str(rng, "-&/+_.:|")
        return f"{word}{joiner}{sampler.word(rng, 8)}"
    return _pick(
        (
            "...",
            "!!",
            "?!",
            "&",
            "+",
            "-",
            "=",
            "/",
            "%",
            "@",
            "#",
            "*",
            "~",
            "^",
            "|",
            "\\",
            '"',
            "'",
            ";",
            ":",
            "<",
            ">",
            "$",
            "_",
            "`",
            "{",
            "}",
        ),
        rng,
    )


def random_chars(sampler: TextSampler, rng: np.random.Generator) -> str:
    """Random characters: full charset, letters and digits, or digits only."""
    config = sampler.config
    length = int(rng.integers(config.min_length, min(config.max_length, 12) + 1))
    alphabet = _pick((CHARSET, CHARSET[:62], CHARSET[:10], CHARSET[36:62] + CHARSET[:10]), rng)
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=length))


def _pick_str(rng: np.random.Generator, chars: str) -> str:
    return chars[int(rng.integers(len(chars)))]


KINDS: dict[str, Callable[[TextSampler, np.random.Generator], str]] = {
    "word": dictionary_word,
    "number": number,
    "price": price,
    "date": date,
    "time": clock_time,
    "phone": phone,
    "postcode": postcode,
    "product_code": product_code,
    "url": url,
    "email": email,
    "punctuated": punctuated_word,
    "random": random_chars,
}

DEFAULT_WEIGHTS: dict[str, float] = {
    "word": 0.55,
    "number": 0.08,
    "price": 0.04,
    "date": 0.03,
    "time": 0.02,
    "phone": 0.02,
    "postcode": 0.02,
    "product_code": 0.05,
    "url": 0.03,
    "email": 0.01,
    "punctuated": 0.08,
    "random": 0.07,
}

# Stage 0: short clean dictionary words, lowercase or Title case. Stage 1: all cases, numbers and
# punctuation, up to 16 characters. Stage 2: every kind, up to the full 25 characters.
CURRICULUM: tuple[TextConfig, ...] = (
    TextConfig({"word": 1.0}, {"lower": 0.6, "title": 0.4}, max_length=8),
    TextConfig(
        {"word": 0.75, "number": 0.1, "punctuated": 0.1, "price": 0.05},
        max_length=16,
    ),
    TextConfig(DEFAULT_WEIGHTS, max_length=MAX_LENGTH),
)


def curriculum_config(stage: int, max_length: int | None = None) -> TextConfig:
    """The config of a curriculum stage (stages past the last give the last one)."""
    config = CURRICULUM[min(max(int(stage), 0), len(CURRICULUM) - 1)]
    if max_length is not None:
        config = replace(config, max_length=min(config.max_length, max_length))
    return config
