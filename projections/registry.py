"""Every projection the services run, by name."""

from projections.agreements.projection import AGREEMENTS
from projections.attainment.projection import ATTAINMENT
from projections.engine.runner import Projection
from projections.figures.projection import FIGURES
from projections.frameworks.projection import FRAMEWORKS
from projections.key_figures.projection import KEY_FIGURES

PROJECTIONS: tuple[Projection, ...] = (FIGURES, AGREEMENTS, ATTAINMENT, FRAMEWORKS, KEY_FIGURES)
