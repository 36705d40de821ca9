"""Ten-pin bowling game scoring."""
from __future__ import annotations

FRAMES = 10
PINS = 10


class GameOverError(Exception):
    """Raised when rolling after the tenth frame is complete."""


class Game:
    def __init__(self) -> None:
        self.rolls: list[int] = []
        # frames[i] holds the pin counts rolled in frame i (0-based)
        self._frames: list[list[int]] = [[]]

    # -- recording ------------------------------------------------------------
    @property
    def current_frame(self) -> int:
        """1-based number of the frame being bowled (10 once the game ends)."""
        return len(self._frames)

    def is_complete(self) -> bool:
        if len(self._frames) < FRAMES:
            return False
        last = self._frames[-1]
        if len(last) == 3:
            return True
        return len(last) == 2 and sum(last) < PINS

    def roll(self, pins: int) -> None:
        if self.is_complete():
            raise GameOverError("the game is over")
        if not 0 <= pins <= PINS:
            raise ValueError(f"cannot knock down {pins} pins")
        frame = self._frames[-1]
        if len(self._frames) < FRAMES:
            if frame and frame[0] + pins > PINS:
                raise ValueError("frame total cannot exceed 10 pins")
        else:
            self._check_tenth(frame, pins)
        frame.append(pins)
        self.rolls.append(pins)
        if len(self._frames) < FRAMES and (frame[0] == PINS or len(frame) == 2):
            self._frames.append([])

    @staticmethod
    def _check_tenth(frame: list[int], pins: int) -> None:
        if len(frame) == 1 and frame[0] < PINS and frame[0] + pins > PINS:
            raise ValueError("frame total cannot exceed 10 pins")
        if len(frame) == 2:
            first, second = frame
            # after a strike followed by a non-strike the rack is not reset
            if first == PINS and second < PINS and second + pins > PINS:
                raise ValueError("bonus rolls cannot exceed the standing pins")

    # -- scoring --------------------------------------------------------------
    def frame_scores(self) -> list[int | None]:
        """Running total after each of the ten frames, None where not yet known."""
        totals: list[int | None] = []
        running = 0
        index = 0  # position in self.rolls of the frame's first ball
        rolls = self.rolls
        for number, frame in enumerate(self._frames, start=1):
            if number < FRAMES:
                if frame and frame[0] == PINS:
                    needed, width = 3, 1
                elif len(frame) == 2 and sum(frame) == PINS:
                    needed, width = 3, 2
                else:
                    needed, width = 2, 2
            else:
                needed = 3 if len(frame) >= 2 and sum(frame[:2]) >= PINS else 2
                width = needed
            window = rolls[index:index + needed]
            if len(window) < needed or (number == FRAMES and len(frame) < needed):
                break
            running += sum(window)
            totals.append(running)
            index += width
        return totals + [None] * (FRAMES - len(totals))

    def score(self) -> int:
        """Score of all frames that can already be scored."""
        known = [s for s in self.frame_scores() if s is not None]
        return known[-1] if known else 0


def play(rolls: list[int]) -> Game:
    game = Game()
    for pins in rolls:
        game.roll(pins)
    return game
