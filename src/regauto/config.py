"""Configuration (SPEC §5): ``regauto.toml``, or ``[tool.regauto]`` in ``pyproject.toml``.

No file at all means the defaults.  An unknown key or a bad value is an error naming the file
and the key (exit 2): a typo must never silently fall back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from regauto import config_checks as checks
from regauto import tomlcache
from regauto.errors import ConfigError
from regauto.globmatch import matches, matches_any

CONFIG_NAME = "regauto.toml"
ID_MODES = ("prefix", "header", "registry")
ROLES = ("source", "test", "doc", "config", "script", "data", "other")
AUTO_STAGE = ("managed", "all", "none")
BUILTIN_GENERATORS = ("markdown-index", "json-index", "csv-index")
DEFAULT_REGISTRY = ".regauto/registry"


class Rule(NamedTuple):
    match: str
    id_mode: str | None = None
    role: str | None = None
    rename: bool | None = None


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(match="**/*.py", id_mode="header"),
    Rule(match="docs/**/*.{md,markdown,rst,txt}", id_mode="prefix"),
)


class Generator(NamedTuple):
    name: str
    output: str
    builtin: str | None = None
    python: str | None = None
    command: tuple[str, ...] | None = None


class WatchConfig(NamedTuple):
    min_age_ms: int = 500
    samples: int = 2
    sample_interval_ms: int = 100
    suppress_ms: int = 2000
    mutate: bool = False
    reconcile_every_s: int = 300
    debounce_ms: int = 200


class QueueConfig(NamedTuple):
    max_attempts: int = 3
    lease_s: float = 60.0


REFERENCES = ("moved", "all")


class CheckConfig(NamedTuple):
    # moved: broken_reference names links to registered documents that moved;
    # all: also links to paths that exist nowhere and regauto never knew.
    references: str = "moved"


class Config(NamedTuple):
    registry: str = DEFAULT_REGISTRY
    include: tuple[str, ...] = ("**/*",)
    exclude: tuple[str, ...] = ()
    auto_stage: str = "managed"
    max_file_bytes: int = 2_000_000
    max_patch_bytes: int = 64 << 20  # `regauto patch` reads no more (it holds the patch whole)
    backups: int = 20
    lock_timeout_s: float = 30.0
    cas_retries: int = 8
    rules: tuple[Rule, ...] = DEFAULT_RULES
    generators: tuple[Generator, ...] = ()
    watch: WatchConfig = WatchConfig()
    queue: QueueConfig = QueueConfig()
    check: CheckConfig = CheckConfig()
    source: str = "defaults"
    # Not a key: the files the repository's toolchains name (toolchains.named_files), which
    # prefix mode never renames; Project.open fills it in.
    never_rename: tuple[str, ...] = ()

    def rule_for(self, path: str) -> Rule:
        """The effective rule for ``path``: the first matching rule over the defaults."""
        for r in self.rules:
            if matches(r.match, path):
                return r
        return Rule(match="**/*")

    @property
    def outputs(self) -> list[str]:
        """The generated outputs' repository paths, in config order."""
        return [g.output for g in self.generators]

    def builtin_excludes(self) -> tuple[str, ...]:
        reg = self.registry.strip("/")
        return (".git/**", ".regauto/**", f"{reg}/**", *self.outputs)

    def is_included(self, path: str) -> bool:
        if matches_any(self.builtin_excludes(), path) or matches_any(self.exclude, path):
            return False
        return matches_any(self.include, path)


_TOP_KEYS = {
    "registry": str,
    "include": list,
    "exclude": list,
    "auto_stage": str,
    "max_file_bytes": int,
    "max_patch_bytes": int,
    "backups": int,
    "lock_timeout_s": (int, float),
    "cas_retries": int,
    "rules": list,
    "generators": list,
    "watch": dict,
    "queue": dict,
    "check": dict,
}


def load(root: Path, explicit: Path | None = None, cache_dir: Path | None = None) -> Config:
    """Read the configuration of the repository at ``root``; ``cache_dir``: where parsed
    TOML is cached (``tomlcache``; None: parse every time)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found")
        data = _read_toml(explicit, cache_dir)
        if explicit.name == "pyproject.toml":
            data = _tool_section(data, str(explicit)) or {}
            return _on_disk(root, parse(data, f"{explicit} [tool.regauto]"))
        return _on_disk(root, parse(data, str(explicit)))
    toml = root / CONFIG_NAME
    if toml.is_file():
        return _on_disk(root, parse(_read_toml(toml, cache_dir), CONFIG_NAME))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        section = _tool_section(_read_toml(pyproject, cache_dir), "pyproject.toml")
        if section is not None:
            return _on_disk(root, parse(section, "pyproject.toml [tool.regauto]"))
    return Config()


def _on_disk(root: Path, cfg: Config) -> Config:
    """The checks that look at the tree: an output must not overwrite a file of the user's."""
    checks.check_outputs_on_disk(cfg.source, root, _output_keys(cfg.generators))
    return cfg


def _output_keys(gens: tuple[Generator, ...]) -> list[tuple[str, str]]:
    return [(f"generators[{i}].output", g.output) for i, g in enumerate(gens)]


def _tool_section(data: dict[str, Any], src: str) -> dict[str, Any] | None:
    """``[tool.regauto]`` of a pyproject, None when absent; a non-table is an error (a
    ``tool = "x"`` or ``tool.regauto = 1`` must not crash or silently mean defaults)."""
    tool = data.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError(f"{src}: key 'tool': expected a table")
    section = tool.get("regauto")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{src}: key 'tool.regauto': expected a table")
    return section


def _read_toml(path: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    try:
        return tomlcache.load(path, cache_dir)
    except tomlcache.decode_error() as e:
        raise ConfigError(f"{path.name}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path.name}: invalid TOML: not UTF-8 (byte {e.start + 1})") from None
    except RecursionError:
        raise ConfigError(f"{path.name}: invalid TOML: nested too deeply") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


_err = checks.err


def _check_type(src: str, key: str, value: Any, typ: Any) -> None:
    if isinstance(value, bool) and typ is not bool:
        raise _err(src, key, f"expected {_tname(typ)}, got a boolean")
    if not isinstance(value, typ):
        raise _err(src, key, f"expected {_tname(typ)}, got {type(value).__name__}")


def _tname(typ: Any) -> str:
    if isinstance(typ, tuple):
        return " or ".join(t.__name__ for t in typ)
    return str(typ.__name__)


def _str_list(src: str, key: str, value: Any) -> tuple[str, ...]:
    if not all(isinstance(v, str) and v for v in value):
        raise _err(src, key, "expected a list of non-empty strings")
    return tuple(value)


def parse(data: dict[str, Any], src: str) -> Config:
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise _err(src, key, "unknown key")
        _check_type(src, key, value, _TOP_KEYS[key])
    kw: dict[str, Any] = {"source": src}
    if "registry" in data:
        reg = checks.safe_rel(src, "registry", data["registry"], folder=True)
        kw["registry"] = checks.check_registry(src, reg)
    for key in ("include", "exclude"):
        if key in data:
            kw[key] = _str_list(src, key, data[key])
    if "auto_stage" in data:
        if data["auto_stage"] not in AUTO_STAGE:
            raise _err(src, "auto_stage", f"must be one of {', '.join(AUTO_STAGE)}")
        kw["auto_stage"] = data["auto_stage"]
    for key in ("max_file_bytes", "max_patch_bytes", "backups", "cas_retries"):
        if key in data:
            kw[key] = checks.number(src, key, data[key])
    if "lock_timeout_s" in data:
        kw["lock_timeout_s"] = float(checks.number(src, "lock_timeout_s", data["lock_timeout_s"]))
    if "rules" in data:
        kw["rules"] = tuple(_rule(src, i, r) for i, r in enumerate(data["rules"]))
    if "generators" in data:
        gens = tuple(_generator(src, i, g) for i, g in enumerate(data["generators"]))
        names = [g.name for g in gens]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise _err(src, "generators", f"duplicate generator name {sorted(dup)[0]!r}")
        kw["generators"] = gens
        checks.check_outputs(src, _output_keys(gens), kw.get("registry", DEFAULT_REGISTRY))
    if "watch" in data:
        kw["watch"] = _section(src, "watch", data["watch"], WatchConfig)
    if "queue" in data:
        kw["queue"] = _section(src, "queue", data["queue"], QueueConfig)
    if "check" in data:
        for k, v in data["check"].items():
            if k != "references":
                raise _err(src, f"check.{k}", "unknown key")
            if v not in REFERENCES:
                raise _err(src, "check.references", f"must be one of {', '.join(REFERENCES)}")
        kw["check"] = CheckConfig(**data["check"])
    return Config(**kw)


def _rule(src: str, i: int, r: Any) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(r, dict):
        raise _err(src, where, "expected a table")
    allowed = {"match", "id_mode", "role", "rename"}
    for k in r:
        if k not in allowed:
            raise _err(src, f"{where}.{k}", "unknown key")
    if not isinstance(r.get("match"), str) or not r["match"]:
        raise _err(src, f"{where}.match", "required, a glob pattern")
    if "id_mode" in r and r["id_mode"] not in ID_MODES:
        raise _err(src, f"{where}.id_mode", f"must be one of {', '.join(ID_MODES)}")
    if "role" in r and r["role"] not in ROLES:
        raise _err(src, f"{where}.role", f"must be one of {', '.join(ROLES)}")
    if "rename" in r and not isinstance(r["rename"], bool):
        raise _err(src, f"{where}.rename", "expected true or false")
    return Rule(r["match"], r.get("id_mode"), r.get("role"), r.get("rename"))


def _generator(src: str, i: int, g: Any) -> Generator:
    where = f"generators[{i}]"
    if not isinstance(g, dict):
        raise _err(src, where, "expected a table")
    for k in g:
        if k not in {"name", "output", "builtin", "python", "command"}:
            raise _err(src, f"{where}.{k}", "unknown key")
    for k in ("name", "output"):
        if not isinstance(g.get(k), str) or not g[k]:
            raise _err(src, f"{where}.{k}", "required, a string")
    kinds = [k for k in ("builtin", "python", "command") if k in g]
    if len(kinds) != 1:
        raise _err(src, where, "needs exactly one of builtin, python, command")
    if "builtin" in g and g["builtin"] not in BUILTIN_GENERATORS:
        raise _err(src, f"{where}.builtin", f"must be one of {', '.join(BUILTIN_GENERATORS)}")
    if "python" in g and (not isinstance(g["python"], str) or ":" not in g["python"]):
        raise _err(src, f"{where}.python", "expected 'package.module:function'")
    cmd = g.get("command")
    if cmd is not None and (
        not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd)
    ):
        raise _err(src, f"{where}.command", "expected a non-empty list of strings")
    return Generator(
        name=g["name"],
        output=checks.safe_rel(src, f"{where}.output", g["output"]),
        builtin=g.get("builtin"),
        python=g.get("python"),
        command=tuple(cmd) if cmd is not None else None,
    )


def _section(src: str, name: str, data: dict[str, Any], cls: Any) -> Any:
    defaults = cls()
    kw: dict[str, Any] = {}
    for k, v in data.items():
        if not hasattr(defaults, k):
            raise _err(src, f"{name}.{k}", "unknown key")
        want = type(getattr(defaults, k))
        typ: Any = (int, float) if want is float else want
        _check_type(src, f"{name}.{k}", v, typ)
        if not isinstance(v, bool):
            v = checks.number(src, f"{name}.{k}", v)
            if want is float:
                v = float(v)
        kw[k] = v
    return cls(**kw)
