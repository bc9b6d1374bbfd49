"""The test settings' JSON renderer: the API's (chat_project.renderers), checked against
DRF's own on every response the test suite renders."""

from rest_framework import renderers

from chat_project.renderers import JSONRenderer


class CheckedJSONRenderer(JSONRenderer):
    rendered = 0  # how many responses were checked (test_renderers.py looks)

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        body = super().render(data, accepted_media_type, renderer_context)
        drfs = renderers.JSONRenderer.render(self, data, accepted_media_type, renderer_context)
        assert body == drfs, f"chat_project.renderers wrote {body!r}, DRF {drfs!r}"
        CheckedJSONRenderer.rendered += 1
        return body
