// Package ensemble is the seed project's multi-model test-time ensemble (DavidC001/MEMO-TPT-DL2024, Ensemble/): members
// of any kind (a MEMO ResNet, a TPT CLIP, a zero-shot CLIP), each with its own preprocessing and its own views of the
// same image (the PerModel payload of tta.Views), combined into one distribution whose entropy is minimised jointly,
// every member stepping its own optimizer. The methods it combines are MEMO (Zhang, Levine, Finn, NeurIPS 2022) and TPT
// (Shu et al., NeurIPS 2022).
//
// Combination, for member i with selected-view logits z_i [k_i, C] and temperature T_i:
//
//	a_i    = log mean_v softmax(z_iv)             (SeedCompatible: logsumexp_v z_iv - log k_i, raw logits)
//	logp_i = log_softmax(a_i / T_i)
//	w_i    = (1/H(logp_i)) / sum_j (1/H(logp_j))  (constants for the gradient)
//	m      = sum_i w_i logp_i, renormalised: m -= logsumexp(m)   (SeedCompatible: not renormalised)
//	loss   = -sum_c exp(m_c) m_c
//
// Joint mode (the seed's "Ensemble"), per example: reset every member; Steps times: each member's views are
// forwarded, its floor(N rho) lowest-entropy views selected (recomputed every step), the loss computed, and its
// gradient pushed back into each member, which steps its own optimizer; then the prediction is the combination of
// every member's view 0 alone. Simple mode (the seed's "Simple Ensemble"): the combination of the selected views at
// the initial weights, no gradient.
//
// The joint step is computed in three kinds of executables, so that members never share a graph or a context: each
// member's forward (views -> logits), the combination with its gradient with respect to each member's selected-view
// logits, and each member's update (the vector-Jacobian product of its logits with that gradient, then its
// optimizer). The gradient is the same as the seed's joint backward.
//
// Seed quirks: SeedCompatible reproduces the raw-logit view average and the unnormalised combination. It does not
// reproduce the gradient leakage (the seed's members keep the gradient of their own single-model step, which is
// added to the first joint step) because it is a bug that mixes each member's own objective, at another batch-norm
// prior, into the ensemble's; nor the UnboundLocalError without the simple ensemble. The seed's batch-norm prior of 1
// for MEMO members in the ensemble is the member's setting (memo.Options.MemberPrior = 1), and its single-model
// predictions are separate runs of the members' own adapters.
//
// Usage:
//
//	a, err := ensemble.New(backend.MustNew(), []ensemble.Entry{
//		{Name: "rn50", Member: memoRN50, Temperature: 1.55},
//		{Name: "tpt", Member: tptRN50, Temperature: 0.7},
//	}, ensemble.Options{Select: 0.1})
//	vm := ensemble.ViewMaker{Members: []ensemble.MemberViews{
//		{Name: "rn50", Views: rnViews}, {Name: "tpt", Views: clipViews}}}
//	recs, err := eval.Run(ds, a, vm, eval.Options{Out: "ensemble.jsonl"})
package ensemble
