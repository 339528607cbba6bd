"""Library error messages in command-line words.

Library errors name what is at fault the way a Python caller writes it, in backquotes
(:mod:`poselift.errors`): an argument of the call (`` `max_gap` ``, `` `overwrite=True` ``,
`` `recipe='wild'` ``) or a field of another command's configuration
(`` `TrainConfig.causal=True` ``), or a call of the function behind another command
(`` `convert_dataset(data.npz, OUT.npz, allow_pickle)` ``: a bare name is a switch). :func:`cli_message`
rewrites each mark into the option of the command that was run (``--max-gap``,
``--overwrite``, ``--recipe wild``) or into the other command (``poselift train
--causal``, ``poselift data convert data.npz OUT.npz --allow-pickle``), reading the
option names from the argparse parsers themselves; a mark with no matching option
stays as written.
"""

from __future__ import annotations

import argparse
import re

#: `owner(positional, name=value)`: a call of a function that a command runs
CALL = re.compile(r"`(?P<owner>[A-Za-z_]\w*)\((?P<args>[^`]*)\)`")
#: `name`, `name=value`, `Owner.name`, `Owner.name=value`
MARK = re.compile(r"`(?:(?P<owner>[A-Za-z_]\w*)\.)?(?P<name>[a-z_][a-z0-9_]*)(?:=(?P<value>[^`]*))?`")

#: Library names (arguments, config fields) that the command line spells differently:
#: library name → argparse ``dest``.
ALIASES = {
    "out_dir": "out",
    "run_dir": "out",
    "max_gap_frames": "max_gap",
    "views": "virtual_cameras",
    "camera_preset": "virtual_preset",
    "camera_overrides": "virtual_set",
    "train_seconds": "seconds",
    "min_track_s": "min_track",
    "track_gap_s": "track_gap",
    "person_height_m": "person_height",
}

#: Owners of marks (configuration classes, functions) → the command that sets them.
OWNERS = {
    "TrainConfig": "train",
    "EvaluateOptions": "evaluate",
    "RenderOptions": "render",
    "BenchConfig": "bench",
    "run_infer": "infer",
    "run_stream": "stream",
    "import_videopose3d_checkpoint": "import-checkpoint",
    "convert_dataset": "data convert",
    "export_model": "export",
    "export_weights": "export-weights",
}

_TRUE = {"True", "true"}
_FALSE = {"False", "false"}


def command_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (sub-)command's parser by its words: ``{"train": ..., "data convert": ...}``."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse keeps no public list of sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words = f"{prefix} {name}".strip()
                found[words] = sub
                found.update(command_parsers(sub, words))
    return found


def _actions(parser: argparse.ArgumentParser, dest: str) -> list[argparse.Action]:
    return [a for a in parser._actions if a.dest == dest and a.option_strings]


def _long(action: argparse.Action) -> str:
    return next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])


def _words(parser: argparse.ArgumentParser, name: str, value: str | None) -> str | None:
    """The option(s) that set ``name`` (to ``value``) on ``parser``, or None."""
    dest = ALIASES.get(name, name)
    actions = _actions(parser, dest)
    if not actions and dest != name:  # an alias of another command's option (`views` of score-multiview)
        dest, actions = name, _actions(parser, name)
    switches = [a for a in actions if a.nargs == 0]
    takes_value = [a for a in actions if a.nargs != 0]
    if value is None:
        return _long(actions[0]) if actions else None
    if value in _TRUE:
        on = [a for a in switches if a.const is True] or switches
        return _long(on[0]) if on else None
    if value in _FALSE:
        off = [a for a in switches if a.const is False] or _actions(parser, f"no_{dest}")
        return _long(off[0]) if off else None
    if takes_value:
        return f"{_long(takes_value[0])} {value.strip(chr(39) + chr(34))}"
    return None


def _positional(parser: argparse.ArgumentParser, name: str) -> bool:
    return any(a.dest == ALIASES.get(name, name) and not a.option_strings for a in parser._actions)


def _owner_parser(owner: str | None, parsers: dict[str, argparse.ArgumentParser]) -> tuple[str | None, argparse.ArgumentParser | None]:
    command = OWNERS.get(owner) if owner else None
    return command, parsers.get(command) if command else None


def _render_mark(match: re.Match, current: str | None, parsers: dict[str, argparse.ArgumentParser]) -> str:
    owner, name, value = match.group("owner"), match.group("name"), match.group("value")
    command, parser = _owner_parser(owner, parsers) if owner else (current, parsers.get(current) if current else None)
    words = _words(parser, name, value) if parser is not None else None
    if words is None and parser is not None and value is not None and _positional(parser, name):
        return f"`poselift {command} {value.strip(chr(39) + chr(34))}`"  # bench's `what='train'`
    if words is None:
        return match.group(0)
    return f"`poselift {command} {words}`" if owner and command != current else words


def _render_call(match: re.Match, current: str | None, parsers: dict[str, argparse.ArgumentParser]) -> str:
    command, parser = _owner_parser(match.group("owner"), parsers)
    if parser is None:
        return match.group(0)
    words = [f"poselift {command}"]
    for arg in (a.strip() for a in match.group("args").split(", ") if a.strip()):
        name, eq, value = arg.partition("=")
        if eq and re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            flag = _words(parser, name, value)
            if flag is None:
                return match.group(0)
            words.append(flag)
        elif re.fullmatch(r"[a-z_][a-z0-9_]*", arg) and _words(parser, arg, "True") is not None:
            words.append(_words(parser, arg, "True"))  # a bare switch: `allow_pickle`
        else:
            words.append(arg.strip(chr(39) + chr(34)))
    return "`" + " ".join(words) + "`"


def cli_message(message: str, parser: argparse.ArgumentParser, command: str | None) -> str:
    """``message`` with its argument marks (see the module docstring) as the options
    of ``command`` (words such as ``"infer"`` or ``"data convert"``) of ``parser``."""
    parsers = command_parsers(parser)
    message = CALL.sub(lambda m: _render_call(m, command, parsers), message)
    return MARK.sub(lambda m: _render_mark(m, command, parsers), message)


def invoked_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The words of the (sub-)command ``args`` were parsed for (``"data convert"``)."""
    words = [getattr(args, "command", None)]
    if words[0] == "data" and getattr(args, "data_command", None):
        words.append(args.data_command)
    return " ".join(w for w in words if w) or None


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: the file(s) and what went wrong
    (``out/last.pt: No space left on device``)."""
    what = exc.strerror or str(exc) or type(exc).__name__
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{' -> '.join(files)}: {what}" if files else what
