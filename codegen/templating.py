"""The one Jinja environment for firmware/templates/: StrictUndefined, so a template variable left unfilled is an
error at render time rather than an empty string in generated C."""

from __future__ import annotations

import functools

import jinja2

from codegen import FIRMWARE_DIR

TEMPLATES_DIR = FIRMWARE_DIR / "templates"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_template(name: str, **values) -> str:
    return environment().get_template(name).render(**values)
