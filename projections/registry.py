"""Every projection the services run, by name."""

from projections.figures import FIGURES
from projections.runner import Projection

PROJECTIONS: tuple[Projection, ...] = (FIGURES,)
