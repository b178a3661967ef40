"""The evolution family (book ch. 6): genetic algorithms, evolution strategies, distributed ES."""
