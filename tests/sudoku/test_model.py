import torch

from maskdiff import MaskedDiffusionModel, SamplerConfig, generate
from maskdiff.tasks.sudoku import MASK_ID, GridSource, board_to_tokens, sudoku_model_config, tokens_to_board
from maskdiff.tasks.sudoku.board import find_conflict, parse_board

PUZZLE = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"


def test_token_round_trip():
    board = parse_board(PUZZLE)
    tokens = board_to_tokens([board])
    assert int((tokens == MASK_ID).sum()) == board.count(0)
    assert tokens_to_board(tokens)[0] == board


def test_grid_source_streams_valid_augmented_grids():
    source = GridSource(num_base_grids=5, seed=0)
    batch = source.sample(32, torch.Generator().manual_seed(0))
    boards = tokens_to_board(batch.x0)
    assert all(all(b) and find_conflict(b) is None for b in boards)
    assert len(set(boards)) > 5  # augmentation makes new grids from 5 bases
    again = source.sample(32, torch.Generator().manual_seed(0))
    assert torch.equal(batch.x0, again.x0)


def test_preset_decodes_a_puzzle_without_touching_givens():
    for latent_dim in (0, 8):
        model = MaskedDiffusionModel(sudoku_model_config(latent_dim=latent_dim, d_model=32,
                                                         n_layers=1))
        x = board_to_tokens([parse_board(PUZZLE)])
        out = generate(model, x, config=SamplerConfig(nfe=5, order="top-prob-margin"))
        assert out.nfe == 5 and not bool((out.tokens == MASK_ID).any())
        given = x != MASK_ID
        assert torch.equal(out.tokens[given], x[given])


def test_solve_puzzles_reports_validity_and_keeps_givens():
    from maskdiff.tasks.sudoku import solve_puzzles
    from maskdiff.tasks.sudoku.board import solve

    model = MaskedDiffusionModel(sudoku_model_config(latent_dim=4, d_model=32, n_layers=1))
    puzzle = parse_board(PUZZLE)
    almost = list(solve(puzzle))
    almost[0] = 0  # one blank: any model fills it with the only digit that fits, or fails
    result = solve_puzzles(model, [puzzle, almost], nfe=1, best_of=3,
                           generator=torch.Generator().manual_seed(0))
    assert result.nfe == [1, 1] and result.trajectories == 3 and len(result.boards) == 2
    for board, puzzle_, valid in zip(result.boards, [puzzle, almost], result.valid):
        assert all(p in (0, b) for p, b in zip(puzzle_, board))
        assert valid == (find_conflict(board) is None)
