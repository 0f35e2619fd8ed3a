"""The ``disc-herniation`` recipe: a lumbar T2 axial image at a disc level plus clinical data (age,
sex, thecal sac width, level) → probability of a disc herniation, by a CNN + MLP fusion model.

Modules: :mod:`.recipe` (the recipe's schema and loader), :mod:`.tabular` (clinical inputs checked
and scaled), :mod:`.samples` (index + labels → samples, image preprocessing), :mod:`.network` (the
fusion networks), :mod:`.training`, :mod:`.evaluation` (scores with bootstrap CIs, ROC, calibration,
ablation) and :mod:`.inference` (``radiomark run disc-herniation``).
"""
