"""Sidebar chrome shared by every page: project switcher, account box, compute device."""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

from alphaforge_app import state
from alphaforge_app.i18n import error_text, t
from engine.errors import AlphaForgeError, StoreError
from engine.store.project import Project, validate_name

_SELECT = "project_select"


def _open_chosen(root: Path) -> None:
    """The project box's ``on_change``: open the project the person picked."""
    state.set_project(Project.open(root / st.session_state[_SELECT]))


def project_picker(single_user: bool) -> Project | None:
    root = state.projects_root(single_user)
    names = sorted(p.name for p in root.iterdir() if Project.exists(p))
    current = state.current_project(single_user)
    if names and (current is None or current.root.name not in names):
        preferred = state.default_project_name()
        current = Project.open(root / (preferred if preferred in names else names[0]))
        state.set_project(current)
    st.sidebar.subheader(t("sidebar.project"))
    if current is not None and names:
        # The box shows the open project, which the demo button or the forms below may have
        # just changed; were it left to its own memory it would switch straight back.
        st.session_state[_SELECT] = current.root.name
        st.sidebar.selectbox(t("sidebar.open_project"), names, key=_SELECT,
                             label_visibility="collapsed", on_change=_open_chosen,
                             args=(root,))
    with st.sidebar.expander(t("sidebar.manage")):
        with st.form("new_project", clear_on_submit=True):
            new_name = st.text_input(t("sidebar.new_project_name"))
            if st.form_submit_button(t("common.create")):
                try:
                    name = validate_name(new_name, "project name")
                    if (root / name).exists():
                        raise StoreError(f"a project or folder named '{name}' already exists",
                                         code="project_exists", params={"name": name})
                    state.set_project(Project.create(root / name, name=name))
                    st.rerun()
                except AlphaForgeError as exc:
                    st.error(error_text(exc))
        if current is not None:
            with st.form("rename_project"):
                renamed = st.text_input(t("sidebar.rename_to"), current.root.name)
                if st.form_submit_button(t("common.rename")) and renamed != current.root.name:
                    try:
                        state.set_project(current.rename(renamed))
                        st.rerun()
                    except AlphaForgeError as exc:
                        st.error(error_text(exc))
            confirm = st.checkbox(t("sidebar.confirm_delete", name=current.root.name),
                                  key="confirm_delete")
            if st.button(t("sidebar.delete_project"), disabled=not confirm):
                shutil.rmtree(current.root)
                state.set_project(None)
                st.rerun()
    return current


def account_box() -> None:
    user = state.current_user()
    if user is None:
        return
    st.sidebar.markdown(t("sidebar.signed_in_as", name=user.username))
    with st.sidebar.expander(t("sidebar.change_password")), st.form("change_password",
                                                                    clear_on_submit=True):
        old = st.text_input(t("sidebar.current_password"), type="password")
        new = st.text_input(t("sidebar.new_password"), type="password")
        if st.form_submit_button(t("sidebar.change_password")):
            from alphaforge_app.auth import accounts
            from engine.store.accounts import AuthError

            try:
                accounts().change_password(user.username, old, new)
                st.success(t("sidebar.password_changed"))
            except AuthError as exc:
                st.error(error_text(exc))
    st.sidebar.button(t("sidebar.log_out"), on_click=state.set_user, args=(None,))


def device_caption() -> None:
    """One line naming the device mining computes on (GPU when torch sees one)."""
    from engine.device import describe_device

    info = describe_device()
    key, params = info.message()
    st.sidebar.caption(t(key, **params), help=t("device.help", torch=info.torch_version))
