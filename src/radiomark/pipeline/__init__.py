"""The pipelines that turn a study into a result: the steps of segment-and-measure recipes
(:mod:`~radiomark.pipeline.steps`), one case (:mod:`~radiomark.pipeline.segment_measure`) and a run
over many studies (:mod:`~radiomark.pipeline.batch`)."""
