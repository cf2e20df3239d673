"""The AI behind one small contract (fit, score, predict, save, load); no web or DB code."""
