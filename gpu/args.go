//go:build gpu || gpuemu

package gpu

// The parameter structs of the kernels (kernels/cuda/ABI.md): each kernel
// of kernels/cuda takes one struct, declared there as an X-macro list of
// fields (GAU_KERNEL, GAU_ARGS in common.cuh); the Go struct of a kernel
// has the same fields in the same order, every one 8 bytes (DevicePtr,
// int64, uint64 or float64, so neither side pads), and its tag `c:"..."`
// names the C field. TestArgsLayout compares every struct with the C one
// field by field (name, offset, size, kind) through the emulator, which
// compiles the same sources; TestABI and Open compare each size with the
// kernel's .param in the PTX; a launch checks that the struct is the
// kernel's own type.

// Elementwise and row kernels (elementwise.cu).
type (
	swishArgs struct {
		Y DevicePtr `c:"y"`
		X DevicePtr `c:"x"`
		N int64     `c:"n"`
	}
	swishGradArgs struct {
		DX DevicePtr `c:"dx"`
		X  DevicePtr `c:"x"`
		DY DevicePtr `c:"dy"`
		N  int64     `c:"n"`
	}
	normArgs struct {
		Y    DevicePtr `c:"y"`
		X    DevicePtr `c:"x"`
		Rows int64     `c:"rows"`
		N    int64     `c:"n"`
	}
	normGradArgs struct {
		DX   DevicePtr `c:"dx"`
		X    DevicePtr `c:"x"`
		DY   DevicePtr `c:"dy"`
		Rows int64     `c:"rows"`
		N    int64     `c:"n"`
	}
	gateArgs struct {
		Y    DevicePtr `c:"y"`
		X    DevicePtr `c:"x"`
		O    DevicePtr `c:"o"`
		Rows int64     `c:"rows"`
		E    int64     `c:"e"`
		XW   int64     `c:"xw"`
		OW   int64     `c:"ow"`
	}
	gateGradXArgs struct {
		DX   DevicePtr `c:"dx"`
		O    DevicePtr `c:"o"`
		DY   DevicePtr `c:"dy"`
		Rows int64     `c:"rows"`
		E    int64     `c:"e"`
		XW   int64     `c:"xw"`
		OW   int64     `c:"ow"`
	}
	gateGradOArgs struct {
		DOut DevicePtr `c:"dout"`
		X    DevicePtr `c:"x"`
		DY   DevicePtr `c:"dy"`
		Rows int64     `c:"rows"`
		E    int64     `c:"e"`
		XW   int64     `c:"xw"`
		OW   int64     `c:"ow"`
	}
	addArgs struct {
		Z DevicePtr `c:"z"`
		X DevicePtr `c:"x"`
		Y DevicePtr `c:"y"`
		N int64     `c:"n"`
	}
	toBF16Args struct {
		Y DevicePtr `c:"y"`
		X DevicePtr `c:"x"`
		N int64     `c:"n"`
	}
	dropoutArgs struct {
		Y    DevicePtr `c:"y"`
		X    DevicePtr `c:"x"`
		N    int64     `c:"n"`
		Thr  uint64    `c:"thr"`
		Inv  float64   `c:"inv"`
		Key  uint64    `c:"key"`
		Site uint64    `c:"site"`
	}
	unpackArgs struct {
		Dst   DevicePtr `c:"dst"`
		Src   DevicePtr `c:"src"`
		Row   int64     `c:"row"`
		Rows  int64     `c:"rows"`
		Cols  int64     `c:"cols"`
		Width int64     `c:"width"`
	}
)

// Embeddings (embed.cu).
type (
	gatherArgs struct {
		Out   DevicePtr `c:"out"`
		Table DevicePtr `c:"table"`
		IDs   DevicePtr `c:"ids"`
		NIDs  int64     `c:"nids"`
		N     int64     `c:"n"`
		Rows  int64     `c:"rows"`
		Flag  DevicePtr `c:"flag"`
	}
	scatterAddArgs struct {
		DTable DevicePtr `c:"dtable"`
		DOut   DevicePtr `c:"dout"`
		IDs    DevicePtr `c:"ids"`
		NIDs   int64     `c:"nids"`
		N      int64     `c:"n"`
		Rows   int64     `c:"rows"`
		Flag   DevicePtr `c:"flag"`
	}
)

// The optimiser (optim.cu).
type (
	adamwArgs struct {
		P       DevicePtr `c:"p"`
		G       DevicePtr `c:"g"`
		M       DevicePtr `c:"m"`
		V       DevicePtr `c:"v"`
		N       int64     `c:"n"`
		B1      float64   `c:"b1"`
		B2      float64   `c:"b2"`
		Eps     float64   `c:"eps"`
		Step    float64   `c:"step"`
		SqrtBC2 float64   `c:"sqrt_bc2"`
		Decay   float64   `c:"decay"`
	}
	sqnormArgs struct {
		Out DevicePtr `c:"out"`
		X   DevicePtr `c:"x"`
		N   int64     `c:"n"`
	}
	clipArgs struct {
		X       DevicePtr `c:"x"`
		N       int64     `c:"n"`
		SqNorm  DevicePtr `c:"sqnorm"`
		MaxNorm float64   `c:"max_norm"`
	}
)

// The masked cross entropy (xent.cu).
type (
	xentCountArgs struct {
		Count   DevicePtr `c:"count"`
		Flag    DevicePtr `c:"flag"`
		Targets DevicePtr `c:"targets"`
		M       int64     `c:"M"`
		V       int64     `c:"V"`
	}
	xentRowsArgs struct {
		RowLoss DevicePtr `c:"rowloss"`
		Logits  DevicePtr `c:"logits"`
		Targets DevicePtr `c:"targets"`
		M       int64     `c:"M"`
		V       int64     `c:"V"`
	}
	xentReduceArgs struct {
		Out     DevicePtr `c:"out"`
		Loss32  DevicePtr `c:"loss32"`
		RowLoss DevicePtr `c:"rowloss"`
		Count   DevicePtr `c:"count"`
		M       int64     `c:"M"`
	}
	xentGradArgs struct {
		DLogits  DevicePtr `c:"dlogits"`
		Logits   DevicePtr `c:"logits"`
		Targets  DevicePtr `c:"targets"`
		Count    DevicePtr `c:"count"`
		M        int64     `c:"M"`
		V        int64     `c:"V"`
		Scale    float64   `c:"scale"`
		ScaleDev DevicePtr `c:"scale_dev"`
	}
)

// The attention (attention_fwd.cu, attention_tc.cu, attention_mat.cu,
// attention_bwd.cu). The policy's fields are described in ABI.md: MaskMode
// 0 none, 1 sinks and a window (StreamingLLM, LM-Infinite), 2 a window;
// Radius the window; FarW ReRoPE's or LM-Infinite's far window; Slope
// ALiBi's; Thr, InvKeep, Key, Site the dropout; OW the row stride of out
// and dout; LD the row stride of the L×L matrices.
type (
	// attnPrepArgs: gau_attn_prep_f32, gau_attn_prep_bf16 (X float32 or
	// bfloat16).
	attnPrepArgs struct {
		QR    DevicePtr `c:"qr"`
		KR    DevicePtr `c:"kr"`
		QC    DevicePtr `c:"qc"`
		Q0    DevicePtr `c:"q0"`
		KC    DevicePtr `c:"kc"`
		K0    DevicePtr `c:"k0"`
		X     DevicePtr `c:"X"`
		GQ    DevicePtr `c:"gq"`
		GK    DevicePtr `c:"gk"`
		Pos   DevicePtr `c:"pos"`
		Theta DevicePtr `c:"theta"`
		SC    DevicePtr `c:"sc"`
		Rows  int64     `c:"rows"`
		L     int64     `c:"L"`
		E     int64     `c:"E"`
		D     int64     `c:"D"`
		FarW  int64     `c:"far_w"`
		Alpha float64   `c:"alpha"`
	}
	// attnFwdArgs: gau_attn_fwd_{f32,bf16}_c{1,2,3,6}.
	attnFwdArgs struct {
		Out      DevicePtr `c:"out"`
		Err      DevicePtr `c:"err"`
		X        DevicePtr `c:"X"`
		QR       DevicePtr `c:"qr"`
		KR       DevicePtr `c:"kr"`
		QC       DevicePtr `c:"qc"`
		Q0       DevicePtr `c:"q0"`
		KC       DevicePtr `c:"kc"`
		K0       DevicePtr `c:"k0"`
		Mask     DevicePtr `c:"mask"`
		BScale   DevicePtr `c:"bscale"`
		L        int64     `c:"L"`
		E        int64     `c:"E"`
		D        int64     `c:"D"`
		MaskMode int64     `c:"mask_mode"`
		Radius   int64     `c:"radius"`
		Sinks    int64     `c:"sinks"`
		FarW     int64     `c:"far_w"`
		Slope    float64   `c:"slope"`
		Thr      uint64    `c:"thr"`
		InvKeep  float64   `c:"inv_keep"`
		Key      uint64    `c:"key"`
		Site     uint64    `c:"site"`
		OW       int64     `c:"ow"`
	}
	// attnFwdTCArgs: gau_attn_fwd_tc_bf16_d{16,32,64,128}_s{1,2}.
	attnFwdTCArgs struct {
		Out      DevicePtr `c:"out"`
		Err      DevicePtr `c:"err"`
		X        DevicePtr `c:"X"`
		QR       DevicePtr `c:"qr"`
		K16      DevicePtr `c:"k16"`
		Mask     DevicePtr `c:"mask"`
		BScale   DevicePtr `c:"bscale"`
		L        int64     `c:"L"`
		E        int64     `c:"E"`
		MaskMode int64     `c:"mask_mode"`
		Radius   int64     `c:"radius"`
		Sinks    int64     `c:"sinks"`
		Slope    float64   `c:"slope"`
		OW       int64     `c:"ow"`
	}
	// attnMatSoftmaxArgs: gau_attn_mat_softmax_{f32,bf16} (P float32 or
	// bfloat16).
	attnMatSoftmaxArgs struct {
		P        DevicePtr `c:"P"`
		Out      DevicePtr `c:"out"`
		Err      DevicePtr `c:"err"`
		S0       DevicePtr `c:"S0"`
		S1       DevicePtr `c:"S1"`
		S2       DevicePtr `c:"S2"`
		Mask     DevicePtr `c:"mask"`
		BScale   DevicePtr `c:"bscale"`
		B0       int64     `c:"b0"`
		G        int64     `c:"g"`
		L        int64     `c:"L"`
		E        int64     `c:"E"`
		MaskMode int64     `c:"mask_mode"`
		Radius   int64     `c:"radius"`
		Sinks    int64     `c:"sinks"`
		FarW     int64     `c:"far_w"`
		Slope    float64   `c:"slope"`
		Thr      uint64    `c:"thr"`
		InvKeep  float64   `c:"inv_keep"`
		Key      uint64    `c:"key"`
		Site     uint64    `c:"site"`
		ReadLSE  int64     `c:"read_lse"`
		OW       int64     `c:"ow"`
		LD       int64     `c:"ld"`
	}
	// attnMatDSArgs: gau_attn_mat_ds_{f32,bf16} (dS float32 or bfloat16).
	attnMatDSArgs struct {
		DS0      DevicePtr `c:"dS0"`
		DS1      DevicePtr `c:"dS1"`
		DS2      DevicePtr `c:"dS2"`
		S0       DevicePtr `c:"S0"`
		S1       DevicePtr `c:"S1"`
		S2       DevicePtr `c:"S2"`
		DP       DevicePtr `c:"dP"`
		Out      DevicePtr `c:"out"`
		Delta    DevicePtr `c:"delta"`
		Mask     DevicePtr `c:"mask"`
		BScale   DevicePtr `c:"bscale"`
		B0       int64     `c:"b0"`
		G        int64     `c:"g"`
		L        int64     `c:"L"`
		E        int64     `c:"E"`
		MaskMode int64     `c:"mask_mode"`
		Radius   int64     `c:"radius"`
		Sinks    int64     `c:"sinks"`
		FarW     int64     `c:"far_w"`
		Slope    float64   `c:"slope"`
		Thr      uint64    `c:"thr"`
		InvKeep  float64   `c:"inv_keep"`
		Key      uint64    `c:"key"`
		Site     uint64    `c:"site"`
		OW       int64     `c:"ow"`
		LD       int64     `c:"ld"`
	}
	// attnBwdDeltaArgs: gau_attn_bwd_delta.
	attnBwdDeltaArgs struct {
		Delta DevicePtr `c:"delta"`
		Out   DevicePtr `c:"out"`
		DOut  DevicePtr `c:"dout"`
		Rows  int64     `c:"rows"`
		E     int64     `c:"E"`
		OW    int64     `c:"ow"`
	}
	// attnBwdMainArgs: gau_attn_bwd_main.
	attnBwdMainArgs struct {
		DQR      DevicePtr `c:"dqr"`
		DKR      DevicePtr `c:"dkr"`
		DQC      DevicePtr `c:"dqc"`
		DQ0      DevicePtr `c:"dq0"`
		DKC      DevicePtr `c:"dkc"`
		DK0      DevicePtr `c:"dk0"`
		DX       DevicePtr `c:"dx"`
		Out      DevicePtr `c:"out"`
		DOut     DevicePtr `c:"dout"`
		Delta    DevicePtr `c:"delta"`
		X        DevicePtr `c:"X"`
		QR       DevicePtr `c:"qr"`
		KR       DevicePtr `c:"kr"`
		QC       DevicePtr `c:"qc"`
		Q0       DevicePtr `c:"q0"`
		KC       DevicePtr `c:"kc"`
		K0       DevicePtr `c:"k0"`
		Mask     DevicePtr `c:"mask"`
		BScale   DevicePtr `c:"bscale"`
		L        int64     `c:"L"`
		E        int64     `c:"E"`
		D        int64     `c:"D"`
		MaskMode int64     `c:"mask_mode"`
		Radius   int64     `c:"radius"`
		Sinks    int64     `c:"sinks"`
		FarW     int64     `c:"far_w"`
		Slope    float64   `c:"slope"`
		Thr      uint64    `c:"thr"`
		InvKeep  float64   `c:"inv_keep"`
		Key      uint64    `c:"key"`
		Site     uint64    `c:"site"`
		OW       int64     `c:"ow"`
	}
	// attnBwdPostArgs: gau_attn_bwd_post.
	attnBwdPostArgs struct {
		DX    DevicePtr `c:"dx"`
		DQR   DevicePtr `c:"dqr"`
		DKR   DevicePtr `c:"dkr"`
		DQC   DevicePtr `c:"dqc"`
		DQ0   DevicePtr `c:"dq0"`
		DKC   DevicePtr `c:"dkc"`
		DK0   DevicePtr `c:"dk0"`
		X     DevicePtr `c:"X"`
		GQ    DevicePtr `c:"gq"`
		GK    DevicePtr `c:"gk"`
		Pos   DevicePtr `c:"pos"`
		Theta DevicePtr `c:"theta"`
		SC    DevicePtr `c:"sc"`
		Rows  int64     `c:"rows"`
		L     int64     `c:"L"`
		E     int64     `c:"E"`
		D     int64     `c:"D"`
		FarW  int64     `c:"far_w"`
		Alpha float64   `c:"alpha"`
	}
)
