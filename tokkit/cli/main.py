"""Entry point: a click group whose commands are imported only when used, and one error policy.

Errors a user can cause (:class:`tokkit.TokkitError`, a missing file, Ctrl-C) become one line on
stderr and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from tokkit import __version__
from tokkit.errors import TokkitError

#: command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "encode": "tokkit.cli.encode:encode",
    "decode": "tokkit.cli.decode:decode",
    "info": "tokkit.cli.info:info",
    "convert": "tokkit.cli.convert:convert",
    "train": "tokkit.cli.train:train",
    "train-bpe": "tokkit.cli.train_bpe:train_bpe_command",
    "infer-mixture": "tokkit.cli.infer_mixture:infer_mixture",
    "compare": "tokkit.cli.compare:compare",
    "show": "tokkit.cli.show:show",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs or is listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokkit")
def cli() -> None:
    """tokkit: tokenize text, audio, images and video for language-model training, and back.

    \b
    Examples:
      tokkit encode notes.txt                 # text -> notes.tok (built-in text tokenizer)
      tokkit encode notes.txt -t tokenizer.json --json
      tokkit decode notes.tok                 # back to the original bytes
      tokkit info notes.tok
      tokkit encode clip.mp4 --tokens 16      # video -> clip.tok (16 tokens per frame at 16 fps)
      tokkit decode clip.tok -o back.mp4      # or .y4m, .gif, or a folder name for PNG frames
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn user errors into one line on stderr and a non-zero exit."""
    try:
        status = cli.main(args=argv, prog_name="tokkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("tokkit: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TokkitError as exc:
        click.echo(f"tokkit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("tokkit: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except MemoryError:
        click.echo("tokkit: error: out of memory; process fewer or smaller inputs at a time", err=True)
        sys.exit(1)
    if isinstance(status, int) and status:
        sys.exit(status)
