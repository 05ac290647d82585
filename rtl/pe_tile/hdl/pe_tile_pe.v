// One processing element of the output-stationary tile: a signed MAC into a wrapping
// ACC_W-bit accumulator, INT8 (one 8x8 product per beat) or INT4 (two 4x4 products per beat,
// low nibble = reduction index k, high nibble = k+1).
//
// Zero gating is operand isolation: the operand registers (the multiplier inputs) load only
// when the MAC will fire, and the accumulator is enabled only then, so a MAC with a zero
// operand toggles neither the multiplier nor the accumulator.
//
// Timing: operands transferred in cycle c are registered at the end of c; the product is
// added at the end of c+1 (one pipeline stage, the "+1" of the tile's fill).
//
// Mutation hooks for the testbench's self-check, compiled in only with `define PE_MUTATION
// (never in a real build) and switched on per run by a plusarg, so that one build serves
// every mutant:
//   +pe_mutant_drop_carry  the accumulator loses the carry from bit 15 into bit 16.

`default_nettype none

module pe_tile_pe #(
    parameter integer ACC_W = 32
) (
    input  wire             clk,
    input  wire             rst,       // synchronous, active high
    input  wire             clear,     // zero the accumulator (start of a non-delta op)
    input  wire             load,      // load the accumulator from load_val (preload row)
    input  wire [ACC_W-1:0] load_val,
    input  wire             beat,      // an operand beat is transferred this cycle
    input  wire             int4,      // op mode: two signed 4-bit MACs per beat
    input  wire [7:0]       a,         // activation lane of this PE's row
    input  wire [7:0]       b,         // weight lane of this PE's column
    output reg  [ACC_W-1:0] acc
);
    // Which MACs fire: INT8 needs both 8-bit operands non-zero; INT4 decides per nibble.
    wire nz8    = (a != 8'd0) && (b != 8'd0);
    wire nz_lo  = int4 ? ((a[3:0] != 4'd0) && (b[3:0] != 4'd0)) : nz8;
    wire nz_hi  = int4 ? ((a[7:4] != 4'd0) && (b[7:4] != 4'd0)) : nz8;

    reg  [7:0]  a_q;
    reg  [7:0]  b_q;
    reg         fire_lo;
    reg         fire_hi;

    always @(posedge clk) begin
        if (rst) begin
            a_q     <= 8'd0;
            b_q     <= 8'd0;
            fire_lo <= 1'b0;
            fire_hi <= 1'b0;
        end else begin
            fire_lo <= beat && nz_lo;
            fire_hi <= beat && nz_hi;
            if (beat && nz_lo) begin
                a_q[3:0] <= a[3:0];
                b_q[3:0] <= b[3:0];
            end
            if (beat && nz_hi) begin
                a_q[7:4] <= a[7:4];
                b_q[7:4] <= b[7:4];
            end
        end
    end

    // Products. An operand half that did not fire holds a stale value, hence the masks.
    wire signed [15:0] p8   = $signed(a_q) * $signed(b_q);
    wire signed [7:0]  p_lo = $signed(a_q[3:0]) * $signed(b_q[3:0]);
    wire signed [7:0]  p_hi = $signed(a_q[7:4]) * $signed(b_q[7:4]);
    wire signed [15:0] p_lo16 = fire_lo ? {{8{p_lo[7]}}, p_lo} : 16'sd0;
    wire signed [15:0] p_hi16 = fire_hi ? {{8{p_hi[7]}}, p_hi} : 16'sd0;
    wire signed [15:0] p4   = p_lo16 + p_hi16;
    wire signed [15:0] prod = int4 ? p4 : p8;
    wire [ACC_W-1:0]   prod_ext = {{(ACC_W - 16){prod[15]}}, prod};

`ifdef PE_MUTATION
    reg mutant_drop_carry;
    initial mutant_drop_carry = $test$plusargs("pe_mutant_drop_carry");
`endif

    always @(posedge clk) begin
        if (rst || clear) begin
            acc <= {ACC_W{1'b0}};
        end else if (load) begin
            acc <= load_val;
        end else if (fire_lo || fire_hi) begin
`ifdef PE_MUTATION
            if (mutant_drop_carry) begin
                acc[15:0]       <= acc[15:0] + prod_ext[15:0];
                acc[ACC_W-1:16] <= acc[ACC_W-1:16] + prod_ext[ACC_W-1:16];
            end else
`endif
            acc <= acc + prod_ext;
        end
    end
endmodule

`default_nettype wire
