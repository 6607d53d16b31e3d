//! The ONNX operators zkml lowers, in one table: it dispatches each node and lists what is
//! supported (the up-front check and the unsupported-operator error read it), so the two cannot
//! disagree. Each entry names its family's method; the families are the sibling files.

use super::elementwise::Arith;
use super::logic::{Comparison, Logic};
use super::movement::Rearrange;
use super::norm::Norm;
use super::piecewise::Rectifier;
use super::recurrent::Cell;
use super::reduce::{Extremum, Reducer};
use super::table::Softmax;
use super::{Builder, Func, LowerError, UnaryFn, Value};

/// How one node is lowered: its output values, in the node's output order.
pub(super) type Lowering = fn(&mut Builder<'_>) -> Result<Vec<Value>, LowerError>;

/// The node's one output.
fn one(v: Result<Value, LowerError>) -> Result<Vec<Value>, LowerError> {
    v.map(|v| vec![v])
}

const OPS: &[(&str, Lowering)] = &[
    ("Gemm", |b| one(b.gemm())),
    ("MatMul", |b| one(b.matmul())),
    ("Where", |b| one(b.where_op())),
    ("Greater", |b| one(b.compare(Comparison::Greater))),
    ("Less", |b| one(b.compare(Comparison::Less))),
    ("GreaterOrEqual", |b| one(b.compare(Comparison::GreaterOrEqual))),
    ("LessOrEqual", |b| one(b.compare(Comparison::LessOrEqual))),
    ("Equal", |b| one(b.compare(Comparison::Equal))),
    ("Not", |b| one(b.logic(Logic::Not))),
    ("And", |b| one(b.logic(Logic::And))),
    ("Or", |b| one(b.logic(Logic::Or))),
    ("Xor", |b| one(b.logic(Logic::Xor))),
    ("Cast", |b| one(b.cast())),
    ("Add", |b| one(b.arith(Arith::Add))),
    ("Sub", |b| one(b.arith(Arith::Sub))),
    ("Mul", |b| one(b.arith(Arith::Mul))),
    ("Div", |b| one(b.arith(Arith::Div))),
    ("Relu", |b| one(b.unary_func(Func::Relu))),
    ("Conv", |b| one(b.conv())),
    ("AveragePool", |b| one(b.pool())),
    ("GlobalAveragePool", |b| one(b.pool())),
    ("MaxPool", |b| one(b.pool())),
    ("BatchNormalization", |b| one(b.batchnorm())),
    ("Flatten", |b| one(b.reshape())),
    ("Reshape", |b| one(b.reshape())),
    ("Transpose", |b| one(b.transpose())),
    ("Squeeze", |b| one(b.reshape())),
    ("Unsqueeze", |b| one(b.reshape())),
    ("Concat", |b| one(b.concat())),
    ("Identity", |b| one(b.input(0))),
    ("Clip", |b| one(b.clip())),
    ("Constant", |b| one(b.constant())),
    ("ConvTranspose", |b| one(b.conv())),
    ("GlobalMaxPool", |b| one(b.global_max_pool())),
    ("Pad", |b| one(b.pad())),
    ("Slice", |b| one(b.slice())),
    ("Gather", |b| one(b.gather_op())),
    ("Split", |b| b.split()),
    ("Tile", |b| one(b.tile())),
    ("Resize", |b| one(b.resize())),
    ("LSTM", |b| b.recurrent(Cell::Lstm)),
    ("GRU", |b| b.recurrent(Cell::Gru)),
    ("QuantizeLinear", |b| one(b.quantize_linear())),
    ("DequantizeLinear", |b| one(b.dequantize_linear())),
    ("QLinearMatMul", |b| one(b.qlinear_matmul())),
    ("Expand", |b| one(b.expand())),
    ("DepthToSpace", |b| one(b.depth_space(Rearrange::DepthToSpace))),
    ("SpaceToDepth", |b| one(b.depth_space(Rearrange::SpaceToDepth))),
    ("ReduceSum", |b| one(b.reduce(Reducer::Sum))),
    ("ReduceMean", |b| one(b.reduce(Reducer::Mean))),
    ("ReduceMax", |b| one(b.reduce(Reducer::Max))),
    ("ReduceMin", |b| one(b.reduce(Reducer::Min))),
    ("Neg", |b| one(b.neg())),
    ("Sum", |b| one(b.sum())),
    ("Max", |b| one(b.max_min(Extremum::Max))),
    ("Min", |b| one(b.max_min(Extremum::Min))),
    ("Abs", |b| one(b.abs())),
    ("PRelu", |b| one(b.prelu(Rectifier::PRelu))),
    ("LeakyRelu", |b| one(b.prelu(Rectifier::LeakyRelu))),
    ("Sigmoid", |b| one(b.table_op(UnaryFn::Sigmoid))),
    ("Tanh", |b| one(b.table_op(UnaryFn::Tanh))),
    ("Exp", |b| one(b.table_op(UnaryFn::Exp))),
    ("Log", |b| one(b.table_op(UnaryFn::Log))),
    ("Sqrt", |b| one(b.table_op(UnaryFn::Sqrt))),
    ("Reciprocal", |b| one(b.table_op(UnaryFn::Reciprocal))),
    ("Erf", |b| one(b.table_op(UnaryFn::Erf))),
    ("Gelu", |b| one(b.gelu())),
    ("Softplus", |b| one(b.table_op(UnaryFn::Softplus))),
    ("Softsign", |b| one(b.table_op(UnaryFn::Softsign))),
    ("Elu", |b| one(b.elu())),
    ("Selu", |b| one(b.selu())),
    ("HardSigmoid", |b| one(b.hard_sigmoid())),
    ("HardSwish", |b| one(b.table_op(UnaryFn::HardSwish))),
    ("Pow", |b| one(b.pow())),
    ("Softmax", |b| one(b.softmax(Softmax::Softmax))),
    ("LogSoftmax", |b| one(b.softmax(Softmax::LogSoftmax))),
    ("InstanceNormalization", |b| one(b.normalization(Norm::Instance))),
    ("LayerNormalization", |b| one(b.normalization(Norm::Layer))),
];

/// The lowering of operator `op` (of the default domain), if zkml supports it.
pub(super) fn lowering(op: &str) -> Option<Lowering> {
    OPS.iter().find(|(name, _)| *name == op).map(|&(_, f)| f)
}

/// The supported operators, in the order the unsupported-operator error lists them.
pub fn supported() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|&(op, _)| op)
}
