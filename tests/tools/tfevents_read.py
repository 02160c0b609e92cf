#!/usr/bin/python3
"""Reads a TensorBoard event file with the real protobuf runtime and prints a
JSON summary of it, for tests/tensorboard_logger_test.cpp.

    /usr/bin/python3 tests/tools/tfevents_read.py EVENT_FILE

The message classes are built at run time from FileDescriptorProtos written
below (the fields lightning.cpp writes, with TensorFlow's event.proto /
summary.proto / tensor.proto and TensorBoard's hparams api.proto /
plugin_data.proto field numbers), so no protoc and no TensorFlow/TensorBoard
installation is needed: only Debian's python3-protobuf (scripts/setup.sh).

Each TFRecord's masked CRC-32C of the length and of the data is checked
(exit 1 on a mismatch or a truncated record). Each Event and each hparams
plugin payload is parsed with ParseFromString and serialized again with
protobuf's deterministic serializer; the records whose bytes differ are listed
under "noncanonical". Output (one JSON object on stdout):

    {"records": N, "file_version": "brain.Event:2", "noncanonical": [...],
     "scalars": [{"tag", "step", "value"}...],            # simple_value, file order
     "hparams_values": [{"tag", "step", "plugin_name", "tensor_dtype", "tensor_shape"}...],
     "experiment": {"hparam_infos": [{"name", "type"}...], "metric_tags": [...]},
     "session_start": {"hparams": {name: {kind: value}}, "start_time_secs"},
     "session_end": {"status", "end_time_secs"}}
"""

import json
import struct
import sys

try:
    from google.protobuf import descriptor_pb2, message_factory, struct_pb2  # noqa: F401
    from google.protobuf.message import DecodeError
except ImportError as error:
    sys.stderr.write(
        "tfevents_read.py: the Python protobuf runtime is missing (%s). "
        "Run scripts/setup.sh (installs Debian's python3-protobuf for /usr/bin/python3).\n" % error
    )
    sys.exit(3)

FD = descriptor_pb2.FieldDescriptorProto


def field(name, number, kind, type_name=None, repeated=False, oneof=None):
    return dict(name=name, number=number, kind=kind, type_name=type_name, repeated=repeated,
                oneof=oneof)


def message(name, fields, oneofs=(), nested=(), map_entry=False):
    m = descriptor_pb2.DescriptorProto(name=name)
    for oneof in oneofs:
        m.oneof_decl.add(name=oneof)
    for f in fields:
        proto = m.field.add(name=f["name"], number=f["number"], type=f["kind"],
                            label=FD.LABEL_REPEATED if f["repeated"] else FD.LABEL_OPTIONAL)
        if f["type_name"]:
            proto.type_name = f["type_name"]
        if f["oneof"] is not None:
            proto.oneof_index = list(oneofs).index(f["oneof"])
    for n in nested:
        m.nested_type.add().CopyFrom(n)
    if map_entry:
        m.options.map_entry = True
    return m


def enum(name, values):
    e = descriptor_pb2.EnumDescriptorProto(name=name)
    for value_name, number in values:
        e.value.add(name=value_name, number=number)
    return e


def tensorflow_file():
    f = descriptor_pb2.FileDescriptorProto(
        name="lightning_tfevents/tensorflow.proto", package="tensorflow", syntax="proto3")
    f.enum_type.add().CopyFrom(enum("DataType", [("DT_INVALID", 0), ("DT_FLOAT", 1),
                                                 ("DT_DOUBLE", 2)]))
    dim = message("Dim", [field("size", 1, FD.TYPE_INT64), field("name", 2, FD.TYPE_STRING)])
    f.message_type.add().CopyFrom(message("TensorShapeProto", [
        field("dim", 2, FD.TYPE_MESSAGE, ".tensorflow.TensorShapeProto.Dim", repeated=True),
        field("unknown_rank", 3, FD.TYPE_BOOL)], nested=[dim]))
    f.message_type.add().CopyFrom(message("TensorProto", [
        field("dtype", 1, FD.TYPE_ENUM, ".tensorflow.DataType"),
        field("tensor_shape", 2, FD.TYPE_MESSAGE, ".tensorflow.TensorShapeProto"),
        field("float_val", 5, FD.TYPE_FLOAT, repeated=True)]))
    plugin_data = message("PluginData", [field("plugin_name", 1, FD.TYPE_STRING),
                                         field("content", 2, FD.TYPE_BYTES)])
    f.message_type.add().CopyFrom(message("SummaryMetadata", [
        field("plugin_data", 1, FD.TYPE_MESSAGE, ".tensorflow.SummaryMetadata.PluginData"),
        field("display_name", 2, FD.TYPE_STRING),
        field("summary_description", 3, FD.TYPE_STRING)], nested=[plugin_data]))
    value = message("Value", [
        field("node_name", 7, FD.TYPE_STRING),
        field("tag", 1, FD.TYPE_STRING),
        field("metadata", 9, FD.TYPE_MESSAGE, ".tensorflow.SummaryMetadata"),
        field("simple_value", 2, FD.TYPE_FLOAT, oneof="value"),
        field("tensor", 8, FD.TYPE_MESSAGE, ".tensorflow.TensorProto", oneof="value")],
        oneofs=["value"])
    f.message_type.add().CopyFrom(message("Summary", [
        field("value", 1, FD.TYPE_MESSAGE, ".tensorflow.Summary.Value", repeated=True)],
        nested=[value]))
    f.message_type.add().CopyFrom(message("Event", [
        field("wall_time", 1, FD.TYPE_DOUBLE),
        field("step", 2, FD.TYPE_INT64),
        field("file_version", 3, FD.TYPE_STRING, oneof="what"),
        field("summary", 5, FD.TYPE_MESSAGE, ".tensorflow.Summary", oneof="what")],
        oneofs=["what"]))
    return f


def hparams_file():
    f = descriptor_pb2.FileDescriptorProto(
        name="lightning_tfevents/hparams.proto", package="tensorboard.hparams", syntax="proto3",
        dependency=["google/protobuf/struct.proto"])
    f.enum_type.add().CopyFrom(enum("DataType", [
        ("DATA_TYPE_UNSET", 0), ("DATA_TYPE_STRING", 1), ("DATA_TYPE_BOOL", 2),
        ("DATA_TYPE_FLOAT64", 3)]))
    f.enum_type.add().CopyFrom(enum("Status", [
        ("STATUS_UNKNOWN", 0), ("STATUS_SUCCESS", 1), ("STATUS_FAILURE", 2),
        ("STATUS_RUNNING", 3)]))
    h = ".tensorboard.hparams."
    f.message_type.add().CopyFrom(message("HParamInfo", [
        field("name", 1, FD.TYPE_STRING), field("display_name", 2, FD.TYPE_STRING),
        field("description", 3, FD.TYPE_STRING), field("type", 4, FD.TYPE_ENUM, h + "DataType")]))
    f.message_type.add().CopyFrom(message("MetricName", [
        field("group", 1, FD.TYPE_STRING), field("tag", 2, FD.TYPE_STRING)]))
    f.message_type.add().CopyFrom(message("MetricInfo", [
        field("name", 1, FD.TYPE_MESSAGE, h + "MetricName"),
        field("display_name", 3, FD.TYPE_STRING), field("description", 4, FD.TYPE_STRING)]))
    f.message_type.add().CopyFrom(message("Experiment", [
        field("description", 1, FD.TYPE_STRING), field("user", 2, FD.TYPE_STRING),
        field("time_created_secs", 3, FD.TYPE_DOUBLE),
        field("hparam_infos", 4, FD.TYPE_MESSAGE, h + "HParamInfo", repeated=True),
        field("metric_infos", 5, FD.TYPE_MESSAGE, h + "MetricInfo", repeated=True),
        field("name", 6, FD.TYPE_STRING)]))
    entry = message("HparamsEntry", [
        field("key", 1, FD.TYPE_STRING),
        field("value", 2, FD.TYPE_MESSAGE, ".google.protobuf.Value")], map_entry=True)
    f.message_type.add().CopyFrom(message("SessionStartInfo", [
        field("hparams", 1, FD.TYPE_MESSAGE, h + "SessionStartInfo.HparamsEntry", repeated=True),
        field("model_uri", 2, FD.TYPE_STRING), field("monitor_url", 3, FD.TYPE_STRING),
        field("group_name", 4, FD.TYPE_STRING), field("start_time_secs", 5, FD.TYPE_DOUBLE)],
        nested=[entry]))
    f.message_type.add().CopyFrom(message("SessionEndInfo", [
        field("status", 1, FD.TYPE_ENUM, h + "Status"),
        field("end_time_secs", 2, FD.TYPE_DOUBLE)]))
    f.message_type.add().CopyFrom(message("HParamsPluginData", [
        field("version", 1, FD.TYPE_INT32),
        field("experiment", 2, FD.TYPE_MESSAGE, h + "Experiment", oneof="data"),
        field("session_start_info", 3, FD.TYPE_MESSAGE, h + "SessionStartInfo", oneof="data"),
        field("session_end_info", 4, FD.TYPE_MESSAGE, h + "SessionEndInfo", oneof="data")],
        oneofs=["data"]))
    return f


STRUCT_FILE = descriptor_pb2.FileDescriptorProto.FromString(struct_pb2.DESCRIPTOR.serialized_pb)
CLASSES = message_factory.GetMessages([STRUCT_FILE, tensorflow_file(), hparams_file()])
Event = CLASSES["tensorflow.Event"]
HParamsPluginData = CLASSES["tensorboard.hparams.HParamsPluginData"]


def crc32c(data):
    # Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    records = []
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if not header:
                return records
            if len(header) < 12:
                raise ValueError("record %d: truncated header" % len(records))
            length, length_crc = struct.unpack("<QI", header)
            if masked_crc32c(header[:8]) != length_crc:
                raise ValueError("record %d: length CRC mismatch" % len(records))
            data = f.read(length)
            footer = f.read(4)
            if len(data) < length or len(footer) < 4:
                raise ValueError("record %d: truncated data" % len(records))
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise ValueError("record %d: data CRC mismatch" % len(records))
            records.append(data)


def enum_name(message_object, field_name):
    descriptor = message_object.DESCRIPTOR.fields_by_name[field_name].enum_type
    return descriptor.values_by_number[getattr(message_object, field_name)].name


def main(path):
    records = read_records(path)
    out = {"records": len(records), "file_version": None, "noncanonical": [], "scalars": [],
           "hparams_values": [], "experiment": None, "session_start": None, "session_end": None}
    for index, data in enumerate(records):
        event = Event()
        event.ParseFromString(data)
        if event.SerializeToString(deterministic=True) != data:
            out["noncanonical"].append("record %d" % index)
        if event.WhichOneof("what") == "file_version":
            if index == 0:
                out["file_version"] = event.file_version
            continue
        for value in event.summary.value:
            if value.WhichOneof("value") == "simple_value":
                out["scalars"].append(
                    {"tag": value.tag, "step": event.step, "value": value.simple_value})
                continue
            tensor = value.tensor
            out["hparams_values"].append({
                "tag": value.tag, "step": event.step,
                "plugin_name": value.metadata.plugin_data.plugin_name,
                "tensor_dtype": enum_name(tensor, "dtype") if value.HasField("tensor") else None,
                "tensor_shape": [d.size for d in tensor.tensor_shape.dim]})
            content = value.metadata.plugin_data.content
            plugin = HParamsPluginData()
            plugin.ParseFromString(content)
            if plugin.SerializeToString(deterministic=True) != content:
                out["noncanonical"].append("record %d plugin content" % index)
            which = plugin.WhichOneof("data")
            if which == "experiment":
                out["experiment"] = {
                    "version": plugin.version,
                    "hparam_infos": [{"name": i.name, "type": enum_name(i, "type")}
                                     for i in plugin.experiment.hparam_infos],
                    "metric_tags": [m.name.tag for m in plugin.experiment.metric_infos]}
            elif which == "session_start_info":
                start = plugin.session_start_info
                out["session_start"] = {
                    "hparams": {key: {v.WhichOneof("kind"): getattr(v, v.WhichOneof("kind"))}
                                for key, v in start.hparams.items()},
                    "start_time_secs": start.start_time_secs}
            elif which == "session_end_info":
                end = plugin.session_end_info
                out["session_end"] = {"status": enum_name(end, "status"),
                                      "end_time_secs": end.end_time_secs}
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tfevents_read.py EVENT_FILE")
    try:
        main(sys.argv[1])
    except (OSError, ValueError, DecodeError) as error:
        sys.exit("tfevents_read.py: %s: %s" % (sys.argv[1], error))
