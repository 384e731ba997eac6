"""Where a map's mass lies: the zones partition the image, and a map's energy is read against their areas."""

import numpy as np
import pytest

from medxai.metrics.evidence_location import ZONES, area_by_zone, energy_by_zone, foreground_mask, zone_masks

SIZE = 100


def head() -> tuple[np.ndarray, np.ndarray]:
    """A bright disc (the head, radius 35) with a dark hole (a ventricle) on a black background [3,100,100],
    and a 10-px box (the expert region) inside it."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    image = np.where((yy - 50) ** 2 + (xx - 50) ** 2 < 35 ** 2, 0.8, 0.0)
    image[45:50, 45:50] = 0.0
    region = np.zeros((SIZE, SIZE), dtype=bool)
    region[30:40, 55:65] = True
    return np.stack([image] * 3), region


def test_the_foreground_is_the_head_with_its_holes_filled():
    image, _ = head()
    foreground = foreground_mask(image)
    assert foreground[50, 50] and foreground[47, 47] and not foreground[5, 5]
    assert foreground.mean() == pytest.approx(np.pi * 35 ** 2 / SIZE ** 2, abs=0.01)
    assert not foreground_mask(np.zeros((3, 8, 8))).any()


def test_zones_are_disjoint_and_cover_the_image():
    image, region = head()
    zones = zone_masks(image, region)
    assert tuple(zones) == ZONES
    assert np.array_equal(sum(mask.astype(int) for mask in zones.values()), np.ones((SIZE, SIZE), dtype=int))
    assert np.array_equal(zones["region"], region) and zones["edge"][0, 0] and zones["edge"][99, 50]
    assert zones["foreground"][50, 50] and zones["background"][20, 12] and not zones["edge"][20, 12]
    assert sum(area_by_zone(zones).values()) == pytest.approx(1.0)


def test_a_map_s_energy_by_zone():
    image, region = head()
    zones = zone_masks(image, region)
    saliency = np.zeros((SIZE, SIZE))
    saliency[30:40, 55:65] = 1.0  # all of it on the region
    saliency[0:2, 0:50] = 1.0  # as much again along the top edge
    assert energy_by_zone(saliency, zones) == pytest.approx({"region": 0.5, "edge": 0.5, "foreground": 0.0,
                                                            "background": 0.0})
    assert energy_by_zone(np.zeros((SIZE, SIZE)), zones) == dict.fromkeys(ZONES, 0.0)
