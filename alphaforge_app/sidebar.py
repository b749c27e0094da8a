"""Sidebar chrome shared by every page: project switcher and account box."""

from __future__ import annotations

import shutil

import streamlit as st

from alphaforge_app import state
from engine.errors import AlphaForgeError
from engine.store.project import Project, validate_name


def project_picker(single_user: bool) -> Project | None:
    root = state.projects_root(single_user)
    names = sorted(p.name for p in root.iterdir() if Project.exists(p))
    current = state.current_project(single_user)
    if current is None and names:
        preferred = state.default_project_name()
        current = Project.open(root / (preferred if preferred in names else names[0]))
        state.set_project(current)
    st.sidebar.markdown("### Project")
    if names:
        index = names.index(current.root.name) if current and current.root.name in names else 0
        choice = st.sidebar.selectbox("Open project", names, index=index, key="project_select",
                                      label_visibility="collapsed")
        if current is None or choice != current.root.name:
            current = Project.open(root / choice)
            state.set_project(current)
    with st.sidebar.expander("New / rename / delete"):
        with st.form("new_project", clear_on_submit=True):
            new_name = st.text_input("New project name")
            if st.form_submit_button("Create"):
                try:
                    name = validate_name(new_name, "project name")
                    if (root / name).exists():
                        raise AlphaForgeError(f"a project named '{name}' already exists")
                    state.set_project(Project.create(root / name, name=name))
                    st.rerun()
                except AlphaForgeError as exc:
                    st.error(str(exc))
        if current is not None:
            with st.form("rename_project"):
                renamed = st.text_input("Rename current project to", current.root.name)
                if st.form_submit_button("Rename") and renamed != current.root.name:
                    try:
                        state.set_project(current.rename(renamed))
                        st.rerun()
                    except AlphaForgeError as exc:
                        st.error(str(exc))
            confirm = st.checkbox(f"Yes, delete '{current.root.name}' and all its files",
                                  key="confirm_delete")
            if st.button("Delete project", disabled=not confirm):
                shutil.rmtree(current.root)
                state.set_project(None)
                st.rerun()
    return current


def account_box() -> None:
    user = state.current_user()
    if user is None:
        return
    st.sidebar.markdown(f"Signed in as **{user.username}**")
    with st.sidebar.expander("Change password"), st.form("change_password",
                                                         clear_on_submit=True):
        old = st.text_input("Current password", type="password")
        new = st.text_input("New password (8+ characters)", type="password")
        if st.form_submit_button("Change password"):
            from alphaforge_app.auth import accounts
            from engine.store.accounts import AuthError

            try:
                accounts().change_password(user.username, old, new)
                st.success("Password changed.")
            except AuthError as exc:
                st.error(str(exc))
    st.sidebar.button("Log out", on_click=state.set_user, args=(None,))
