"""Filters that write a value the way the docker CLI does (see console/cli.py)."""

from django import template

from console import cli

register = template.Library()
register.filter("cli_memory", cli.memory)
