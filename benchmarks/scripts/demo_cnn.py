"""The demo CNN (tfmon's own demo model and generated data), with validation like the demo."""

import sys
from pathlib import Path

import _bench

try:
    from tfmon.examples.demo import build_model, make_data
except ImportError:  # a checkout without tfmon installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from tfmon.examples.demo import build_model, make_data


def main() -> None:
    args = _bench.parser(__doc__.splitlines()[0], epochs=3, samples=4000, batch_size=64).parse_args()
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    x, y = make_data(args.samples, args.seed)
    model = build_model()
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=0.1,
        verbose=args.verbose,
        callbacks=_bench.callbacks(args),
    )


if __name__ == "__main__":
    main()
