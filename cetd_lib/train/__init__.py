"""Phase-2 training: the guarded reconstruction reward, stage 1 (supervised), stage 2 (RL)."""
