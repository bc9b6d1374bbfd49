from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, content-hashed static files. The chat page's ES modules
    import one another: their `import ... from "./x.js";` lines are rewritten to the hashed
    names too, so a deployment never pairs a new module with a cached old one."""

    support_js_module_import_aggregation = True
