# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is the CPU build on these machines; it must be installed before anything that
# depends on torch, or pip pulls the CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO := demo-output
# The real head CT template beside the repository (../shared/data), for a semi-synthetic brain-gwr case.
HEAD_TEMPLATE := ../shared/data/ct-head-template
# A real abdominal CT volume (TotalSegmentator's example) beside the repository: L3 is found automatically.
ABDOMEN_CT := ../shared/data/ct-abdomen-totalseg

.PHONY: demo test docs install clean system-packages viewer default-model default-model-neonatal-rds default-model-neonatal-rds-segmenter default-model-nigra default-model-brain-gwr

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The documentation site (docs/, MkDocs with its bundled theme: builds offline) into build/site;
# recipe references are generated from the recipes (docs/hooks.py).
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict
	@echo "documentation: build/site/index.html"

# A real abdominal CT slice (not necessarily at L3) shipped by the pydicom-data package.
DEMO_SLICE = $$($(BIN)/python -c "from pydicom.data import get_testdata_file as f; print(f('explicit_VR-UN.dcm', download=False))")

# A real chest CR (MONOCHROME1) from the same package.
DEMO_CR = $$($(BIN)/python -c "from pydicom.data import get_testdata_file as f; print(f('RG1_UNCR.dcm', download=False))")

demo: $(STAMP)
	$(BIN)/radiomark phantom sarcopenia $(DEMO)/sarcopenia --cases 3 --format dicom
	$(BIN)/radiomark phantom brain-gwr $(DEMO)/brain-gwr --cases 1 --format dicom
	$(BIN)/radiomark phantom neonatal-rds $(DEMO)/neonatal-rds --cases 2 --format dicom
	$(BIN)/radiomark phantom nigra $(DEMO)/nigra --cases 1 --format dicom --seed 1000
	$(BIN)/radiomark phantom disc-herniation $(DEMO)/disc-herniation --cases 16 --format dicom
	$(BIN)/radiomark info $(DEMO)
	$(BIN)/radiomark run sarcopenia $(DEMO_SLICE) --sex M --height 1.75 --weight 80 --out $(DEMO)/sarcopenia-run
	if [ -d $(ABDOMEN_CT) ]; then \
	  $(BIN)/radiomark run sarcopenia $(ABDOMEN_CT)/example_ct.nii.gz --sex M --height 1.75 --weight 80 \
	    --out $(DEMO)/sarcopenia-volume-run; \
	else echo "sarcopenia volume demo skipped: $(ABDOMEN_CT) (a real abdominal CT volume) is not beside the repository"; fi
	$(BIN)/radiomark run neonatal-rds $(DEMO_CR) --dicom-sr --out $(DEMO)/neonatal-rds-run
	$(BIN)/radiomark run nigra $(DEMO)/nigra/nigra-1000 --dicom-sr --out $(DEMO)/nigra-run
	if [ -d $(HEAD_TEMPLATE) ]; then \
	  $(BIN)/radiomark phantom brain-gwr $(DEMO)/brain-gwr-template --template $(HEAD_TEMPLATE) --seed 1000 && \
	  $(BIN)/radiomark run brain-gwr $(DEMO)/brain-gwr-template/ctgwr-1000 --dicom-sr --out $(DEMO)/brain-gwr-run; \
	else echo "brain-gwr demo skipped: $(HEAD_TEMPLATE) (the real head CT template) is not beside the repository"; fi
	$(BIN)/radiomark index disc-herniation $(DEMO)/disc-herniation --out $(DEMO)/disc-herniation-index.csv
	@echo "disc-herniation: no labelled herniation MRI exists, so no model is bundled; a 3-epoch demo model on 16 phantoms:"
	$(BIN)/radiomark train disc-herniation --index $(DEMO)/disc-herniation-index.csv \
	  --labels $(DEMO)/disc-herniation/labels.csv --out $(DEMO)/disc-herniation-model --epochs 3 --no-ablation
	$(BIN)/radiomark run disc-herniation $(DEMO)/disc-herniation/disc-herniation-0000 \
	  --model $(DEMO)/disc-herniation-model --canal-mask $(DEMO)/disc-herniation/disc-herniation-0000/labels.nii.gz \
	  --out $(DEMO)/disc-herniation-run

# Debian packages some tests use (the DICOM validator dciodvfy, a headless browser for the report test,
# pdftotext for the privacy test of report.pdf, a real PACS — Orthanc with its DICOMweb plugin — for the
# DICOMweb round trip).
# Installed when missing and possible (root with apt-get); otherwise those tests skip and say why.
DEBIAN_PACKAGES := dicom3tools chromium chromium-driver poppler-utils orthanc orthanc-dicomweb
system-packages:
	@if [ -x /usr/bin/dciodvfy ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/pdftotext ] \
	   && [ -x /usr/sbin/Orthanc ] && [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null || \
	  echo "could not install $(DEBIAN_PACKAGES): the tests that need them will skip"; \
	else echo "not root or no apt-get: $(DEBIAN_PACKAGES) not installed; the tests that need them will skip"; fi

# The OHIF viewer (the released static build of @ohif/app from npm) for the viewer test; npm comes from
# Debian when missing and possible. Without it that test skips and says why.
OHIF_VERSION := 3.12.10
OHIF := build/ohif/$(OHIF_VERSION)
viewer:
	@if [ -f $(OHIF)/dist/index.html ]; then :; \
	elif ! command -v npm >/dev/null && ! { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }; then \
	  echo "npm not found and not installable: the OHIF viewer test will skip"; \
	else rm -rf $(OHIF) && mkdir -p $(OHIF) && \
	  (cd $(OHIF) && npm pack --silent @ohif/app@$(OHIF_VERSION) >/dev/null && \
	   tar xzf ohif-app-$(OHIF_VERSION).tgz --strip-components=1 package/dist && rm ohif-app-$(OHIF_VERSION).tgz) || \
	  echo "could not fetch @ohif/app@$(OHIF_VERSION) from npm: the OHIF viewer test will skip"; fi

test: $(STAMP) system-packages viewer
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Re-creates the bundled default sarcopenia model exactly as shipped: 4000 procedural slices about L3
# (radiomark.recipes.sarcopenia.anatomy, made in memory), 16 epochs (about 45 minutes on 2 cores),
# then its ONNX export.
MODEL_RUN := build/default-sarcopenia
WEIGHTS := src/radiomark/models/weights/sarcopenia
default-model: $(STAMP)
	rm -rf $(MODEL_RUN)
	$(BIN)/radiomark train sarcopenia --synthetic 4000 --out $(MODEL_RUN)/run --epochs 16
	mkdir -p $(WEIGHTS)/fold_0
	cp $(MODEL_RUN)/run/recipe.yaml $(MODEL_RUN)/run/metrics.json $(MODEL_RUN)/run/training_curve.png $(WEIGHTS)/
	cp $(MODEL_RUN)/run/fold_0/best.pt $(MODEL_RUN)/run/fold_0/history.json $(WEIGHTS)/fold_0/
	$(BIN)/radiomark export $(WEIGHTS) --onnx

# Re-creates the bundled neonatal-rds model: the lung segmenter on the JSRT training split, then the
# normal-vs-pneumonia classifier on Kermany's train split (needs ../shared/data; about 40 minutes).
NEONATAL_RUN := build/default-neonatal-rds
NEONATAL_WEIGHTS := src/radiomark/models/weights/neonatal-rds
default-model-neonatal-rds: $(STAMP)
	rm -rf $(NEONATAL_RUN)/run
	$(BIN)/python benchmarks/neonatal_rds.py --train-default-model --work $(NEONATAL_RUN)
	mkdir -p $(NEONATAL_WEIGHTS)/fold_0 $(NEONATAL_WEIGHTS)/classifier
	cp $(NEONATAL_RUN)/run/recipe.yaml $(NEONATAL_RUN)/run/metrics.json $(NEONATAL_RUN)/run/training_curve.png $(NEONATAL_WEIGHTS)/
	cp $(NEONATAL_RUN)/run/fold_0/best.pt $(NEONATAL_RUN)/run/fold_0/history.json $(NEONATAL_WEIGHTS)/fold_0/
	cp $(NEONATAL_RUN)/run/classifier/recipe.yaml $(NEONATAL_RUN)/run/classifier/best.pt \
	   $(NEONATAL_RUN)/run/classifier/metrics.json $(NEONATAL_RUN)/run/classifier/history.json $(NEONATAL_WEIGHTS)/classifier/
	$(BIN)/radiomark export $(NEONATAL_WEIGHTS) --onnx

# Re-creates only the lung segmenter of the bundled neonatal-rds model and keeps its classifier — how
# the round-2 segmenter (trained with the real-world film corruptions) was made; about 45 minutes.
default-model-neonatal-rds-segmenter: $(STAMP)
	rm -rf $(NEONATAL_RUN)/run
	$(BIN)/python benchmarks/neonatal_rds.py --train-default-model --segmenter-only --work $(NEONATAL_RUN)
	cp $(NEONATAL_RUN)/run/recipe.yaml $(NEONATAL_RUN)/run/metrics.json $(NEONATAL_RUN)/run/training_curve.png $(NEONATAL_WEIGHTS)/
	cp $(NEONATAL_RUN)/run/fold_0/best.pt $(NEONATAL_RUN)/run/fold_0/history.json $(NEONATAL_WEIGHTS)/fold_0/
	$(BIN)/radiomark export $(NEONATAL_WEIGHTS) --onnx

# Re-creates the bundled nigra model: a DynUNet variant of the recipe trained on 80 multi-echo phantoms
# (about 20 minutes on 2 cores).
NIGRA_RUN := build/default-nigra
NIGRA_WEIGHTS := src/radiomark/models/weights/nigra
default-model-nigra: $(STAMP)
	rm -rf $(NIGRA_RUN)/run
	$(BIN)/python benchmarks/nigra.py --train-default-model --work $(NIGRA_RUN)
	mkdir -p $(NIGRA_WEIGHTS)/fold_0
	cp $(NIGRA_RUN)/run/recipe.yaml $(NIGRA_RUN)/run/plan.json $(NIGRA_RUN)/run/metrics.json \
	   $(NIGRA_RUN)/run/training_curve.png $(NIGRA_WEIGHTS)/
	cp $(NIGRA_RUN)/run/fold_0/best.pt $(NIGRA_RUN)/run/fold_0/history.json $(NIGRA_WEIGHTS)/fold_0/
	$(BIN)/radiomark export $(NIGRA_WEIGHTS) --onnx

clean:
	rm -rf $(VENV) $(DEMO)

# Re-creates the bundled brain-gwr model: the recipe trained on 48 cases of the semi-synthetic cohort
# built from the real CQ500 head CT template (needs ../shared/data; about an hour on 2 cores).
BRAIN_RUN := build/default-brain-gwr
BRAIN_WEIGHTS := src/radiomark/models/weights/brain-gwr
default-model-brain-gwr: $(STAMP)
	rm -rf $(BRAIN_RUN)/run
	$(BIN)/python benchmarks/brain_gwr.py --train-default-model --work $(BRAIN_RUN)
	mkdir -p $(BRAIN_WEIGHTS)/fold_0
	cp $(BRAIN_RUN)/run/recipe.yaml $(BRAIN_RUN)/run/plan.json $(BRAIN_RUN)/run/metrics.json \
	   $(BRAIN_RUN)/run/training_curve.png $(BRAIN_WEIGHTS)/
	cp $(BRAIN_RUN)/run/fold_0/best.pt $(BRAIN_RUN)/run/fold_0/history.json $(BRAIN_WEIGHTS)/fold_0/
	$(BIN)/radiomark export $(BRAIN_WEIGHTS) --onnx
