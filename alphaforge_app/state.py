"""Typed access to Streamlit session state: the only place that knows the state keys."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from engine.store.accounts import User, user_home
from engine.store.project import Project, default_home

_USER = "af_user"
_PROJECT = "af_project_path"


def home() -> Path:
    """The AlphaForge home folder (``ALPHAFORGE_HOME`` or the platform data folder)."""
    path = default_home()
    path.mkdir(parents=True, exist_ok=True)
    return path


def current_user() -> User | None:
    return st.session_state.get(_USER)


def set_user(user: User | None) -> None:
    if user is None:
        st.session_state.clear()  # logout forgets everything of the session
    else:
        st.session_state[_USER] = user


def projects_root(single_user: bool) -> Path:
    root = user_home(home(), None if single_user else current_user())
    root.mkdir(parents=True, exist_ok=True)
    return root


def current_project(single_user: bool) -> Project | None:
    """The open project, only if it lies inside this user's projects folder (a stale or
    forged path in the session never opens another user's project)."""
    path = st.session_state.get(_PROJECT)
    if not path or not Project.exists(path):
        return None
    root = projects_root(single_user).resolve()
    if not Path(path).resolve().is_relative_to(root):
        return None
    return Project.open(path)


def is_single_user() -> bool:
    from engine.store.settings import load_settings

    return load_settings(home()).mode == "single"


def set_project(project: Project | None) -> None:
    st.session_state[_PROJECT] = str(project.root) if project else None


def default_project_name() -> str:
    return os.environ.get("ALPHAFORGE_PROJECT", "demo")
