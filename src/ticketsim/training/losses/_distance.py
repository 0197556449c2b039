"""Distance-name to sentence-transformers metric mapping shared by the margin losses."""

from __future__ import annotations

from typing import Any


def siamese(name: str) -> Any:
    from sentence_transformers.sentence_transformer.losses import SiameseDistanceMetric

    return {"cosine": SiameseDistanceMetric.COSINE_DISTANCE,
            "euclidean": SiameseDistanceMetric.EUCLIDEAN,
            "manhattan": SiameseDistanceMetric.MANHATTAN}[name]


def triplet(name: str) -> Any:
    from sentence_transformers.sentence_transformer.losses import TripletDistanceMetric

    return {"cosine": TripletDistanceMetric.COSINE,
            "euclidean": TripletDistanceMetric.EUCLIDEAN,
            "manhattan": TripletDistanceMetric.MANHATTAN}[name]
