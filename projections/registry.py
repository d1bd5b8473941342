"""Every projection the services run, by name."""

from projections.agreements import AGREEMENTS
from projections.attainment_view import ATTAINMENT
from projections.figures import FIGURES
from projections.frameworks import FRAMEWORKS
from projections.key_figures import KEY_FIGURES
from projections.runner import Projection

PROJECTIONS: tuple[Projection, ...] = (FIGURES, AGREEMENTS, ATTAINMENT, FRAMEWORKS, KEY_FIGURES)
