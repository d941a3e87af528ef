"""An absl app with its own flags (absl is a dependency of TensorFlow)."""
from absl import app, flags

flags.DEFINE_integer("epochs", 1, "how many epochs")
FLAGS = flags.FLAGS


def main(argv):
    print(f"absl epochs: {FLAGS.epochs}")


if __name__ == "__main__":
    app.run(main)
