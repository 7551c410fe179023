"""``mash-token``: print a development access token signed with the dev key."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from datetime import timedelta

from jwt.warnings import InsecureKeyLengthWarning

from mashcore.auth.principal import Role
from mashcore.auth.verifier import DEV_KEY_ENV, AuthConfig, issue_dev_token, resolve_dev_key

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for ``mash-token``."""
    parser = argparse.ArgumentParser(
        prog="mash-token",
        description=(
            f"Print a development JWT signed (HS256) with the key in ${DEV_KEY_ENV}, "
            "for calling MASH services locally."
        ),
    )
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument("--agency", required=True, help="e.g. police, health, education")
    parser.add_argument("--partnership", default=None, help="e.g. coventry")
    parser.add_argument("--subject", default=None, help="default: dev-<role>-<agency>")
    parser.add_argument("--name", default=None, help="display name claim (optional)")
    parser.add_argument("--ttl-hours", type=float, default=8.0, help="lifetime in hours")
    parser.add_argument("--issuer", default=AuthConfig.issuer)
    parser.add_argument("--audience", default=AuthConfig.audience)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, print a signed token to stdout and return the exit status."""
    args = build_parser().parse_args(argv)
    if args.ttl_hours <= 0:
        print("mash-token: --ttl-hours must be positive", file=sys.stderr)
        return 2
    key, is_default = resolve_dev_key()
    if is_default:
        print(
            f"mash-token: warning: {DEV_KEY_ENV} is not set; signing with the insecure "
            "development default key. Never use it outside local development.",
            file=sys.stderr,
        )
    config = AuthConfig(dev_key=key, issuer=args.issuer, audience=args.audience)
    with warnings.catch_warnings():
        # The documented dev default is shorter than HS256's recommended 32 bytes;
        # the warning above already says it is insecure.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = issue_dev_token(
            config,
            subject=args.subject or f"dev-{args.role}-{args.agency}",
            role=Role(args.role),
            agency=args.agency,
            partnership=args.partnership,
            name=args.name,
            ttl=timedelta(hours=args.ttl_hours),
        )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
