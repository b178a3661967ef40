"""Puts the plugin's configs (algo/cem.yaml, experiment/cem_cartpole.yaml) on Hydra's search path."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class DrlrunPluginExampleSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(
            provider="drlrun-plugin-example", path="pkg://drlrun_plugin_example.conf"
        )
