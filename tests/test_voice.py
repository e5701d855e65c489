"""The spoken prompts: every prompt renders (espeak-ng's Mandarin voice) to a WAV that is not
silent and of a sensible length, measured with sox; each lane moment plays its prompt once through
a recording speaker; quiet hours and volume 0 mute it; a compound's recording replaces the
synthetic one; the volume scales the samples."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from datetime import datetime
from pathlib import Path

import pytest

from drivers.speaker import RecordingSpeaker
from kiosk.screen_state import ScreenState
from kiosk.voice import PROMPTS, Voice, prompt_for, quiet, render
from tests.gate_helpers import wait_for_screen, wait_until

needs_tools = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by ./setup.sh test",
)


def sox_stat(path: Path) -> dict[str, float]:
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True).stderr
    stats = {}
    for line in out.splitlines():
        match = re.match(r"(.+?):\s+(-?[\d.]+)$", line)
        if match:
            stats[match.group(1).strip()] = float(match.group(2))
    return stats


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("voice")
    if shutil.which("espeak-ng"):
        render(folder)
    return folder


@needs_tools
@pytest.mark.parametrize("name", list(PROMPTS))
def test_every_prompt_renders_to_speech_of_a_sensible_length(rendered, name):
    stats = sox_stat(rendered / f"{name}.wav")
    assert 0.6 <= stats["Length (seconds)"] <= 4.5, stats
    assert stats["RMS     amplitude"] > 0.02, stats  # not silence
    assert stats["Maximum amplitude"] < 1.0, stats  # not clipped


def test_quiet_hours_wrap_midnight():
    assert quiet(23, 22, 7) and quiet(3, 22, 7) and not quiet(7, 22, 7) and not quiet(12, 22, 7)
    assert quiet(13, 12, 14) and not quiet(14, 12, 14)
    assert not any(quiet(h, 5, 5) for h in range(24))


def test_the_instruction_is_said_when_the_lane_becomes_free_not_again():
    assert prompt_for({"screen": "idle"}, "admitted", "before") == "ready_pass"
    assert prompt_for({"screen": "idle"}, "idle", "before") is None
    assert prompt_for({"screen": "idle"}, "blocked", "off") == "ready"
    assert prompt_for({"screen": "admitted"}, "admitted", "off") == "admitted"  # the next person
    assert prompt_for({"screen": "measuring"}, "idle", "off") is None


def voice_for(config, folder: Path, hour: int = 12) -> tuple[Voice, ScreenState, RecordingSpeaker]:
    screen, speaker = ScreenState(), RecordingSpeaker()
    voice = Voice(
        lambda: config,
        screen,
        speaker,
        synthetic_dir=folder,
        now=lambda: datetime(2026, 12, 6, hour, 0),
    )
    return voice, screen, speaker


@needs_tools
def test_quiet_hours_and_volume_zero_mute_it(make_config, rendered):
    voice, screen, speaker = voice_for(make_config(), rendered, hour=23)
    assert voice.said(screen.publish("blocked"), "measuring") is None
    voice, screen, speaker = voice_for(make_config(voice__volume=0), rendered)
    assert voice.said(screen.publish("blocked"), "measuring") is None
    voice, screen, speaker = voice_for(make_config(voice__quiet_from_hour=0), rendered, hour=23)
    assert voice.said(screen.publish("blocked"), "measuring") == "blocked"  # 0-7 only
    assert speaker.names and speaker.names[0].startswith("blocked")


@needs_tools
def test_a_compounds_recording_replaces_the_synthetic_one(make_config, rendered, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(rendered / "admitted.wav", own / "admitted.wav")
    voice, screen, speaker = voice_for(
        make_config(voice__custom_dir=str(own), voice__volume=100), rendered
    )
    voice.said(screen.publish("admitted"), "measuring")
    voice.said(screen.publish("blocked"), "admitted")
    assert [p.parent for _, p in speaker.played] == [own, rendered]


@needs_tools
def test_the_volume_scales_the_samples(make_config, rendered):
    voice, screen, speaker = voice_for(make_config(voice__volume=50), rendered)
    voice.said(screen.publish("retry"), "measuring")
    [(_, played)] = speaker.played
    full = sox_stat(rendered / "retry.wav")["Maximum amplitude"]
    half = sox_stat(played)["Maximum amplitude"]
    assert half == pytest.approx(full / 2, rel=0.02)
    with wave.open(str(played)) as scaled, wave.open(str(rendered / "retry.wav")) as source:
        assert scaled.getnframes() == source.getnframes()


@needs_tools
def test_each_lane_moment_plays_its_prompt_once(start_kiosk, tmp_path):
    speaker = RecordingSpeaker()
    k = start_kiosk(kiosk__result_hold_s=1.0, voice__quiet_from_hour=0, voice__quiet_until_hour=0)
    k.voice.stop()  # the fixture's own voice: this test's speaker replaces it
    from kiosk.server import start_voice

    voice = start_voice(k.gate, speaker)
    try:
        wait_until(lambda: (k.config.data_dir / "voice" / "admitted.wav").exists(), 20)
        scene = k.hardware.simulator.scene
        scene.person(36.6)
        wait_for_screen(k.gate, "admitted")
        scene.person(38.4)  # the next person steps in
        wait_for_screen(k.gate, "blocked", timeout=10)
        wait_for_screen(k.gate, "awaiting_guard", timeout=10)
        wait_until(lambda: any(n.startswith("awaiting") for n in speaker.names), what=speaker.names)
        names = [n.split("-")[0] for n in speaker.names]
        assert names == ["admitted", "ready", "blocked", "awaiting_guard"], names
    finally:
        voice.stop()


def test_a_machine_without_a_sound_card_is_told_apart(tmp_path):
    from drivers.speaker import has_sound_card

    cards = tmp_path / "cards"
    assert not has_sound_card(cards)  # no ALSA at all
    cards.write_text("--- no soundcards ---\n")
    assert not has_sound_card(cards)
    cards.write_text(" 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n")
    assert has_sound_card(cards)
