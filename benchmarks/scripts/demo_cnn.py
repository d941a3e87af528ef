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
    _bench.fit(model, x, y, args, validation_split=0.1)


if __name__ == "__main__":
    main()
