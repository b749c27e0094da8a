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


def current_project() -> Project | None:
    path = st.session_state.get(_PROJECT)
    if path and Project.exists(path):
        return Project.open(path)
    return None


def set_project(project: Project | None) -> None:
    st.session_state[_PROJECT] = str(project.root) if project else None


def default_project_name() -> str:
    return os.environ.get("ALPHAFORGE_PROJECT", "demo")
