// Package classify trains and applies text classifiers on frozen sentence
// embeddings: multinomial logistic regression with L2 regularisation, the
// model scikit-learn's LogisticRegression fits by default.
//
// Training minimises, over weights W [K, D] and intercepts b [K],
//
//	Σᵢ sᵢ · CE(softmax(W xᵢ + b), yᵢ) + ‖W‖² / (2C)
//
// where sᵢ is the class weight of example i (1, or n / (K · n_class) with
// ClassWeight "balanced", as in scikit-learn) and the intercepts are not
// penalised. The solver is L-BFGS (memory 10) with a backtracking line
// search, in float64, started from zero: the result is deterministic. It
// stops when the largest gradient component, divided by the total sample
// weight, falls below Tol, or after MaxIter iterations.
//
// A Classifier is saved as JSON (atomically) together with the name of the
// embedding model that made its inputs and its label names, so that
// predictions embed new texts with the same model. Evaluate computes
// accuracy, macro-averaged F1 and the confusion matrix; WriteReport prints
// them.
//
// FitTexts, ScoreTexts and PredictTexts start from texts: they embed them
// with an Embedder (an *embed.Model, say) and then fit, score or predict.
package classify
