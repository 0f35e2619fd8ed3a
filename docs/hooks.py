"""MkDocs hook: a page line ``<!-- reference: RECIPE -->`` becomes the recipe's reference, generated
from its recipe.yaml and code (:func:`radiomark.pipeline.recipe_reference.recipe_reference`)."""

from __future__ import annotations

import re
from typing import Any

from radiomark.pipeline.recipe_reference import recipe_reference


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return re.sub(r"^<!-- reference: ([a-z-]+) -->$", lambda found: recipe_reference(found.group(1)), markdown,
                  flags=re.M)
