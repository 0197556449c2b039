"""Synonym replacement from WordNet, offline, sparing what must not change.

Pick it to teach that "laptop won't start" and "notebook does not boot" mean the same:
cheap, no model, deterministic for a seed. Product names, error codes, hostnames,
versions and numbers are left alone (anything with a digit, a dot, a dash, an
underscore, a colon, an upper-case letter inside the word, or all capitals), and so
are stop words. Needs NLTK (``pip install ticketsim[augment]``) and WordNet data in an
NLTK data folder as ``corpora/wordnet``: on Debian/Ubuntu ``apt-get install
wordnet-base wordnet-sense-index`` and ``ticketsim.pairs.augment.wordnet.install_debian_wordnet(DIR)``,
or ``python -m nltk.downloader wordnet`` where there is internet.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ticketsim.config import WordnetAugmentConfig
from ticketsim.errors import TicketsimError
from ticketsim.pairs.text import STOP_WORDS

DEBIAN_DICT = Path("/usr/share/wordnet")
# The 45 lexicographer files, in WordNet's numbering (NLTK reads them from `lexnames`).
_LEX = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession
noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body
verb.change verb.cognition verb.communication verb.competition verb.consumption verb.contact
verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative
verb.weather adj.ppl"""
LEXNAMES = _LEX.split()
_PROTECTED = re.compile(r"[\d._:/\\@#-]|^[A-Z]{2,}$|.[A-Z]")
_WORD = re.compile(r"^([^\w]*)([A-Za-z]+)([^\w]*)$")

Synonyms = Callable[[str], list[str]]


def install_debian_wordnet(nltk_data: str | Path, source: str | Path = DEBIAN_DICT) -> Path:
    """Lay out Debian's wordnet-base files as ``<nltk_data>/corpora/wordnet`` with ``lexnames``."""
    src = Path(source)
    if not (src / "data.noun").is_file():
        raise TicketsimError(
            f"no WordNet database in {src}", field="pairs.augment.wordnet.data_dir",
            hint="apt-get install wordnet-base wordnet-sense-index",
        )
    dest = Path(nltk_data) / "corpora" / "wordnet"
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    pos = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    lex = "".join(f"{i:02d}\t{name}\t{pos[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))
    (dest / "lexnames").write_text(lex)
    return dest


def wordnet_synonyms(data_dir: Path | None) -> Synonyms:
    """A synonym lookup backed by NLTK's WordNet reader, or a clear error saying how to get one."""
    try:
        import nltk
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError as exc:
        raise TicketsimError(
            "the wordnet augmenter needs NLTK", field="pairs.augment.wordnet",
            hint="pip install nltk (ticketsim[augment])",
        ) from exc
    paths = [str(data_dir)] if data_dir else []
    root = None
    for base in paths + list(nltk.data.path):
        cand = Path(base) / "corpora" / "wordnet"
        if (cand / "data.noun").is_file() and (cand / "lexnames").is_file():
            root = cand
            break
    if root is None and data_dir is not None and (DEBIAN_DICT / "data.noun").is_file():
        root = install_debian_wordnet(data_dir)  # Debian's files, laid out the way NLTK reads them
    if root is None:
        raise TicketsimError(
            "WordNet data not found (looked for corpora/wordnet with data.noun and lexnames in "
            + ", ".join(paths + list(nltk.data.path)[:3]) + ", ...)",
            field="pairs.augment.wordnet.data_dir",
            hint="on Debian/Ubuntu: apt-get install wordnet-base wordnet-sense-index, then "
            "python -c \"from ticketsim.pairs.augment.wordnet import install_debian_wordnet as i; "
            "i('DIR')\" and set pairs.augment.wordnet.data_dir: DIR; with internet: "
            "python -m nltk.downloader -d DIR wordnet",
        )
    base = str(root.parent.parent)
    if base not in nltk.data.path:  # NLTK only reads corpora under its data path
        nltk.data.path.append(base)
    with warnings.catch_warnings():  # Debian's 3.0 has no multilingual tables; we need none
        warnings.simplefilter("ignore", UserWarning)
        reader = WordNetCorpusReader(str(root), None)

    def synonyms(word: str) -> list[str]:
        out: list[str] = []
        for syn in reader.synsets(word):
            for lemma in syn.lemma_names():
                w = lemma.replace("_", " ")
                if w.lower() != word.lower() and w not in out:
                    out.append(w)
        return out

    return synonyms


class WordnetAugmenter:
    name = "wordnet"

    def __init__(self, cfg: WordnetAugmentConfig, synonyms: Synonyms | None = None,
                 seed: int = 0) -> None:
        self.replace = cfg.replace
        self.rng = np.random.default_rng(seed)
        self.synonyms = synonyms or wordnet_synonyms(cfg.data_dir)

    @staticmethod
    def protected(word: str) -> bool:
        """Codes, hostnames, versions, numbers, acronyms and product-style names stay as they are."""
        return bool(_PROTECTED.search(word))

    def one(self, text: str) -> str:
        words = text.split(" ")
        eligible = []
        for i, w in enumerate(words):
            m = _WORD.match(w)
            if m and not self.protected(w) and m.group(2).lower() not in STOP_WORDS and len(m.group(2)) > 2:
                eligible.append(i)
        if not eligible:
            return text
        n = max(1, int(round(self.replace * len(eligible))))
        for i in sorted(self.rng.choice(eligible, min(n, len(eligible)), replace=False).tolist()):
            m = _WORD.match(words[i])
            assert m is not None
            options = self.synonyms(m.group(2).lower())
            if options:
                pick = options[int(self.rng.integers(len(options)))]
                words[i] = m.group(1) + pick + m.group(3)
        return " ".join(words)

    def augment(self, texts: list[str]) -> list[str]:
        return [self.one(t) for t in texts]
