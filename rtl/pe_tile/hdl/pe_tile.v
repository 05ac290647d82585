// Output-stationary tile of ROWS x COLS processing elements: C[i][j] += A[i][k] * B[k][j].
// The functional and timing reference is accelerator/pe.py; docs/rtl.md has the protocol.
//
// Streams (valid/ready, a transfer happens on a rising edge where both are high; every
// ready/valid the tile drives depends on its state only, never combinationally on an input):
//   cmd  one per op: int4, delta (keep the stored outputs), preload (load them first),
//        beats (operand beats that follow), skipped (all-zero delta vectors the operand
//        sequencer left out of the stream; counted, never sent)
//   ld   preload rows, ROWS beats of COLS accumulators (only when cmd_preload)
//   in   operand beats: in_a = activation vector A[0..ROWS-1][k] (lane i -> PE row i),
//        in_b = weight vector B[k][0..COLS-1] (lane j -> PE column j); 8 bits per lane,
//        in INT4 mode two signed nibbles per lane (low = k, high = k+1)
//   out  results, one row per beat, row 0 first, out_last on row ROWS-1, with the op's
//        gated-MAC and skipped-vector counts alongside
//
// Cycles of one op without stalls, from the cmd transfer to the last out transfer, both
// included:  2 + (preload ? ROWS : 0) + beats + ROWS.
//
// Mutation hooks for the testbench's self-check, compiled in only with `define PE_MUTATION
// (never in a real build), switched on per run by a plusarg (more in pe_tile_pe.v):
//   +pe_mutant_gate_count  counts a MAC as gated only when BOTH operands are zero.
//   +pe_mutant_delta_clear a delta op clears the stored outputs instead of keeping them.
//   +pe_mutant_slow_flush  the flush takes two cycles instead of one (a timing-only bug).

`default_nettype none

module pe_tile #(
    parameter integer ROWS    = 4,
    parameter integer COLS    = 4,
    parameter integer ACC_W   = 32,  // accumulator bits, two's-complement wrap
    parameter integer BEATS_W = 20,  // width of beat and skip counts
    parameter integer CNT_W   = 32   // width of the gated-MAC count
) (
    input  wire                    clk,
    input  wire                    rst,          // synchronous, active high

    input  wire                    cmd_valid,
    output wire                    cmd_ready,
    input  wire                    cmd_int4,
    input  wire                    cmd_delta,
    input  wire                    cmd_preload,
    input  wire [BEATS_W-1:0]      cmd_beats,
    input  wire [BEATS_W-1:0]      cmd_skipped,

    input  wire                    ld_valid,
    output wire                    ld_ready,
    input  wire [COLS*ACC_W-1:0]   ld_data,

    input  wire                    in_valid,
    output wire                    in_ready,
    input  wire [ROWS*8-1:0]       in_a,
    input  wire [COLS*8-1:0]       in_b,

    output wire                    out_valid,
    input  wire                    out_ready,
    output wire [COLS*ACC_W-1:0]   out_data,
    output wire                    out_last,
    output wire [CNT_W-1:0]        out_gated,
    output wire [BEATS_W-1:0]      out_skipped
);
    localparam integer RW = (ROWS > 1) ? $clog2(ROWS) : 1;
    localparam [2:0] S_IDLE = 3'd0, S_LOAD = 3'd1, S_RUN = 3'd2, S_FLUSH = 3'd3,
                     S_DRAIN = 3'd4;

    reg  [2:0]         state;
    reg                int4_r;
    reg  [BEATS_W-1:0] beats_left;
    reg  [BEATS_W-1:0] skipped_r;
    reg  [CNT_W-1:0]   gated_r;
    reg  [RW-1:0]      row;

    wire row_last = ({{(32 - RW){1'b0}}, row} == ROWS - 1);

    assign cmd_ready = (state == S_IDLE);
    assign ld_ready  = (state == S_LOAD);
    assign in_ready  = (state == S_RUN);
    assign out_valid = (state == S_DRAIN);
    assign out_last  = (state == S_DRAIN) && row_last;
    assign out_gated   = gated_r;
    assign out_skipped = skipped_r;

    wire cmd_fire = cmd_valid && cmd_ready;
    wire ld_fire  = ld_valid && ld_ready;
    wire in_fire  = in_valid && in_ready;
    wire out_fire = out_valid && out_ready;

`ifdef PE_MUTATION
    reg mutant_gate_count, mutant_delta_clear, mutant_slow_flush, flush_waited;
    initial begin
        mutant_gate_count  = $test$plusargs("pe_mutant_gate_count");
        mutant_delta_clear = $test$plusargs("pe_mutant_delta_clear");
        mutant_slow_flush  = $test$plusargs("pe_mutant_slow_flush");
        flush_waited       = 1'b0;
    end
    always @(posedge clk) flush_waited <= (state == S_FLUSH) && !flush_waited;
    wire keep = cmd_delta && !mutant_delta_clear;
`else
    wire keep = cmd_delta;
`endif

    // Gated MACs of the beat on the input: a MAC is gated when either operand is zero, so
    // the active MACs of one half are (non-zero activation lanes) x (non-zero weight lanes).
    integer i;
    integer nza_lo, nza_hi, nzb_lo, nzb_hi;
    reg [CNT_W-1:0] gated_beat;
    always @* begin
        nza_lo = 0; nza_hi = 0; nzb_lo = 0; nzb_hi = 0;
        for (i = 0; i < ROWS; i = i + 1) begin
            if (int4_r ? (in_a[8*i +: 4] != 4'd0) : (in_a[8*i +: 8] != 8'd0)) nza_lo = nza_lo + 1;
            if (int4_r ? (in_a[8*i+4 +: 4] != 4'd0) : (in_a[8*i +: 8] != 8'd0)) nza_hi = nza_hi + 1;
        end
        for (i = 0; i < COLS; i = i + 1) begin
            if (int4_r ? (in_b[8*i +: 4] != 4'd0) : (in_b[8*i +: 8] != 8'd0)) nzb_lo = nzb_lo + 1;
            if (int4_r ? (in_b[8*i+4 +: 4] != 4'd0) : (in_b[8*i +: 8] != 8'd0)) nzb_hi = nzb_hi + 1;
        end
        if (int4_r) gated_beat = 2 * ROWS * COLS - nza_lo * nzb_lo - nza_hi * nzb_hi;
        else        gated_beat = ROWS * COLS - nza_lo * nzb_lo;
`ifdef PE_MUTATION
        if (mutant_gate_count) begin
            gated_beat = (ROWS - nza_lo) * (COLS - nzb_lo);
            if (int4_r) gated_beat = gated_beat + (ROWS - nza_hi) * (COLS - nzb_hi);
        end
`endif
    end

    always @(posedge clk) begin
        if (rst) begin
            state      <= S_IDLE;
            int4_r     <= 1'b0;
            beats_left <= {BEATS_W{1'b0}};
            skipped_r  <= {BEATS_W{1'b0}};
            gated_r    <= {CNT_W{1'b0}};
            row        <= {RW{1'b0}};
        end else begin
            case (state)
                S_IDLE: if (cmd_fire) begin
                    int4_r     <= cmd_int4;
                    beats_left <= cmd_beats;
                    skipped_r  <= cmd_skipped;
                    gated_r    <= {CNT_W{1'b0}};
                    row        <= {RW{1'b0}};
                    if (cmd_preload)            state <= S_LOAD;
                    else if (cmd_beats == 0)    state <= S_FLUSH;
                    else                        state <= S_RUN;
                end
                S_LOAD: if (ld_fire) begin
                    row <= row + 1'b1;
                    if (row_last) begin
                        row   <= {RW{1'b0}};
                        state <= (beats_left == 0) ? S_FLUSH : S_RUN;
                    end
                end
                S_RUN: if (in_fire) begin
                    beats_left <= beats_left - 1'b1;
                    gated_r    <= gated_r + gated_beat;
                    if (beats_left == 1) state <= S_FLUSH;
                end
                S_FLUSH: begin
                    // the last beat's products are added at the end of this cycle
                    row   <= {RW{1'b0}};
                    state <= S_DRAIN;
`ifdef PE_MUTATION
                    if (mutant_slow_flush && !flush_waited) state <= S_FLUSH;
`endif
                end
                S_DRAIN: if (out_fire) begin
                    row <= row + 1'b1;
                    if (row_last) begin
                        row   <= {RW{1'b0}};
                        state <= S_IDLE;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

    wire [ROWS*COLS*ACC_W-1:0] acc_flat;
    wire [COLS*ACC_W-1:0]      row_data [0:ROWS-1];
    genvar gr, gc;
    generate
        for (gr = 0; gr < ROWS; gr = gr + 1) begin : g_row
            for (gc = 0; gc < COLS; gc = gc + 1) begin : g_col
                pe_tile_pe #(.ACC_W(ACC_W)) u_pe (
                    .clk      (clk),
                    .rst      (rst),
                    .clear    (cmd_fire && !keep),
                    .load     (ld_fire && (row == gr)),
                    .load_val (ld_data[gc*ACC_W +: ACC_W]),
                    .beat     (in_fire),
                    .int4     (int4_r),
                    .a        (in_a[gr*8 +: 8]),
                    .b        (in_b[gc*8 +: 8]),
                    .acc      (acc_flat[(gr*COLS + gc)*ACC_W +: ACC_W])
                );
            end
            assign row_data[gr] = acc_flat[gr*COLS*ACC_W +: COLS*ACC_W];
        end
    endgenerate

    assign out_data = row_data[row];
endmodule

`default_nettype wire
