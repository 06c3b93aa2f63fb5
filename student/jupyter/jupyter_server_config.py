"""Jupyter server configuration of a student's JupyterLab (JUPYTER_CONFIG_DIR=student/jupyter).

JupyterLab keeps a user's settings and workspaces in <config dir>/lab/ by default: with this config
dir that would be inside the course folder, shared by every student and written into the course's
checkout. They stay in the student's home instead, where a JupyterLab without this config dir keeps
them (JUPYTERLAB_SETTINGS_DIR / JUPYTERLAB_WORKSPACES_DIR still move them, as in JupyterLab).

The instructor's server extensions are switched off in jupyter_server_config.json next to this file.
"""
import os

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

LAB_DIR = os.path.join(os.path.expanduser("~"), ".jupyter", "lab")
c.LabApp.user_settings_dir = os.environ.get("JUPYTERLAB_SETTINGS_DIR") or os.path.join(LAB_DIR, "user-settings")
c.LabApp.workspaces_dir = os.environ.get("JUPYTERLAB_WORKSPACES_DIR") or os.path.join(LAB_DIR, "workspaces")
