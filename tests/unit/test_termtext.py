"""termtext: a line as a terminal shows it; colours kept, every other control sequence dropped."""

from rich.text import Text

from tfmon.probes.termtext import LineScreen, render

# What Keras 3.15's verbose=1 progress bar printed (captured from a real fit).
KERAS_BAR = (
    "\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m3s\x1b[0m 1s/step"
    " - accuracy: 0.1250 - loss: 1.6315"
)


def test_plain_lines_pass_unchanged():
    assert render("Epoch 1/2") == ("Epoch 1/2", None)
    assert render("tab\tstays") == ("tab\tstays", None)


def test_keras_bar_keeps_its_colours_and_measures_its_visible_width():
    plain, styled = render(KERAS_BAR)
    assert plain == "1/4 ━━━━━━━━━━━━━━━━━━━━ 3s 1s/step - accuracy: 0.1250 - loss: 1.6315"
    text = Text.from_ansi(styled)
    assert text.plain == plain and text.cell_len == len(plain)  # 77 cells before, for 58 characters
    colours = [span.style.color.number for span in text.spans if span.style.color]
    assert colours == [2, 7] and text.spans[0].style.bold  # green and white (ANSI 2, 7), bold step count


def test_title_alternate_screen_mouse_and_cursor_sequences_are_dropped():
    line = "\x1b]0;TITLE\x07a\x1b[?1049l\x1b[?1000h\x1b]8;;http://x\x1b\\b\x1b[2J\x1b[Hc\x1b7\x1b(Bd\x07\x00"
    assert render(line) == ("abcd", None)


def test_carriage_return_and_backspace_overwrite_as_on_a_terminal():
    assert render("abcdef\rxy") == ("xycdef", None)
    assert render(" 10%|#   |\r 20%|##  |\r") == (" 20%|##  |", None)
    assert render("abc\b\bX") == ("aXc", None)
    assert render("progress 50%\r\x1b[Kdone") == ("done", None)
    assert render("abcdef\x1b[3D\x1b[KZ") == ("abcZ", None)


def test_line_screen_fed_in_pieces_equals_the_whole():
    screen = LineScreen()
    for piece in ("\r  0%", "\r 50%", "\r\x1b[31m100%\x1b[0m", " ok"):
        screen.feed(piece)
    assert screen.plain() == "100% ok"
    assert Text.from_ansi(screen.styled()).spans[0].style.color.number == 1  # red
