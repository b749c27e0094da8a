"""First-start choice and the login / sign-up / password-reset forms."""

from __future__ import annotations

import streamlit as st

from alphaforge_app import state
from engine.store.accounts import AccountStore, AuthError
from engine.store.settings import AppSettings, load_settings, save_settings


def accounts() -> AccountStore:
    return AccountStore(state.home() / "accounts.db")


def first_start() -> None:
    st.title("Welcome to AlphaForge")
    st.write("Who uses AlphaForge on this computer? You can change this later in the settings "
             "file of the AlphaForge home folder.")
    c1, c2 = st.columns(2)
    if c1.button("Just me — no login", type="primary", use_container_width=True):
        save_settings(state.home(), AppSettings(mode="single"))
        st.rerun()
    if c2.button("Several people — local accounts", use_container_width=True):
        save_settings(state.home(), AppSettings(mode="accounts"))
        st.rerun()


def allowed() -> bool:
    """True when the app may show its pages: single-user mode or a logged-in user."""
    mode = load_settings(state.home()).mode
    return mode == "single" or (mode == "accounts" and state.current_user() is not None)


def gate_page() -> None:
    """The only page shown before ``allowed()``: first-start choice or the login forms."""
    if load_settings(state.home()).mode is None:
        first_start()
        return
    st.title("AlphaForge")
    login, signup, reset = st.tabs(["Log in", "Sign up", "Forgot password"])
    with login, st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Log in", type="primary"):
            try:
                state.set_user(accounts().login(name, password))
                st.rerun()
            except AuthError as exc:
                st.error(str(exc))
    with signup, st.form("signup"):
        name = st.text_input("User name", key="signup_name")
        password = st.text_input("Password (8+ characters)", type="password",
                                 key="signup_password")
        if st.form_submit_button("Create account"):
            try:
                result = accounts().sign_up(name, password)
                st.success("Account created. Write down your recovery code — it is shown only "
                           "once and is the only way to reset a forgotten password:")
                st.code(result.recovery_code, language=None)
            except AuthError as exc:
                st.error(str(exc))
    with reset, st.form("reset"):
        name = st.text_input("User name", key="reset_name")
        code = st.text_input("Recovery code", key="reset_code")
        password = st.text_input("New password", type="password", key="reset_password")
        if st.form_submit_button("Reset password"):
            try:
                fresh = accounts().reset_password(name, code, password)
                st.success("Password changed. Your old recovery code is spent; the new one is:")
                st.code(fresh, language=None)
            except AuthError as exc:
                st.error(str(exc))
