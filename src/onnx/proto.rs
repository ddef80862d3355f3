//! The part of ONNX's protobuf schema an exported model uses, as prost messages: each field has
//! the number `onnx/onnx.proto3` gives it (ONNX 1.8 and later; fields not listed here are left
//! out, which protobuf allows), and prost encodes them. Only what `graph.rs` writes is here.

/// `ModelProto`: the file.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelProto {
    /// The IR version the file follows.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// The operator sets the graph's nodes come from.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// The program that wrote the file.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// A description of the model, for people.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The computation.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Named strings a runtime exposes as the model's metadata.
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// `OperatorSetIdProto`: an operator set and its version (`""` is the default ONNX domain).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatorSetIdProto {
    /// The domain; empty for ONNX's own operators.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `StringStringEntryProto`: one metadata entry.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StringStringEntryProto {
    /// Its name.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Its value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `GraphProto`: nodes in topological order, their constant inputs, the graph's inputs and
/// outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GraphProto {
    /// The operations, each after the ones it reads from.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The weights: constant tensors nodes read by name.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// The inputs a caller feeds.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// The outputs a caller reads.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `NodeProto`: one operator applied to named values.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NodeProto {
    /// The names of the values it reads, in the operator's order.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// The names of the values it writes.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's own name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator (`Gemm`, `Conv`, ...).
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// The operator's attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto`: an operator's setting (only integers and lists of integers here).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AttributeProto {
    /// Its name (`transB`, `kernel_shape`).
    #[prost(string, tag = "1")]
    pub name: String,
    /// The value of an `INT` attribute.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// The values of an `INTS` attribute.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// Which field holds the value: [`ATTRIBUTE_INT`] or [`ATTRIBUTE_INTS`].
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `AttributeProto.AttributeType.INT`.
pub(crate) const ATTRIBUTE_INT: i32 = 2;
/// `AttributeProto.AttributeType.INTS`.
pub(crate) const ATTRIBUTE_INTS: i32 = 7;

/// `TensorProto`: a constant tensor, its values as little-endian bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorProto {
    /// Its shape.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// Its element type: [`FLOAT`], or [`INT64`] for an operator's axes.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// The name nodes read it by.
    #[prost(string, tag = "8")]
    pub name: String,
    /// The values, row-major, little-endian.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

/// `TensorProto.DataType.FLOAT`: 32-bit IEEE floats.
pub(crate) const FLOAT: i32 = 1;
/// `TensorProto.DataType.INT64`: 64-bit integers (ReduceSum's axes).
pub(crate) const INT64: i32 = 7;

/// `ValueInfoProto`: a named value with its type, for the graph's inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    /// A description, for people.
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// `TypeProto`: here always a tensor type.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProto {
    /// The tensor's element type and shape (`TypeProto.tensor_type`).
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `TypeProto.Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorTypeProto {
    /// The element type ([`FLOAT`]).
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// The shape, one entry per dimension.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShapeProto {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a fixed size or a named, symbolic one.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Dimension {
    /// Which it is.
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    pub value: Option<DimensionValue>,
}

/// The value of a [`Dimension`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum DimensionValue {
    /// A fixed size (`dim_value`).
    #[prost(int64, tag = "1")]
    Fixed(i64),
    /// A name for a size known only when run (`dim_param`), such as the batch.
    #[prost(string, tag = "2")]
    Symbolic(String),
}
