"""Reads a run folder with TensorBoard's own reader, for tensorboard_reader_test.cpp.

Usage: python tensorboard_read.py RUN_DIR

Loads every event file of RUN_DIR with
tensorboard.backend.event_processing.event_accumulator.EventAccumulator (size
guidance 0: keep every event) and prints what it holds on stdout, one record
per line, fields separated by tabs:

    file_version    <the accumulator's file_version>
    scalar          <tag>  <step>  <value>        every ScalarEvent, tags sorted, file order
    hparams_tag     <tag>                         the tags of the 'hparams' plugin
    experiment_hparam  <name>  <DataType name>    HParamsPluginData.experiment.hparam_infos
    experiment_metric  <tag>                      ... .metric_infos[].name (group/tag)
    session_hparam  <name>  <kind>  <value>       session_start_info.hparams (kind: the
                                                  google.protobuf.Value oneof; a number
                                                  as repr(), a bool as true/false, a
                                                  string as is)
    session_start_time  <start_time_secs>
    session_end_status  <Status name>
    session_end_time    <end_time_secs>

Floats are printed with repr(), which reads back as the same double; a scalar's
value is the float32 stored in the file, widened exactly to a double.
"""

import sys
import warnings


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tensorboard_read.py RUN_DIR")
    warnings.filterwarnings("ignore")

    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    guidance = {
        event_accumulator.COMPRESSED_HISTOGRAMS: 0,
        event_accumulator.IMAGES: 0,
        event_accumulator.AUDIO: 0,
        event_accumulator.SCALARS: 0,
        event_accumulator.HISTOGRAMS: 0,
        event_accumulator.TENSORS: 0,
    }
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance=guidance)
    acc.Reload()

    out = []

    def emit(*fields):
        for f in fields:
            if "\t" in str(f) or "\n" in str(f):
                sys.exit(f"tensorboard_read.py: cannot print {f!r} in the line format")
        out.append("\t".join(str(f) for f in fields))

    emit("file_version", repr(acc.file_version))
    for tag in sorted(acc.Tags()[event_accumulator.SCALARS]):
        for event in acc.Scalars(tag):
            emit("scalar", tag, event.step, repr(event.value))

    content = acc.PluginTagToContent("hparams")
    for tag in sorted(content):
        emit("hparams_tag", tag)
    for tag in sorted(content):
        data = plugin_data_pb2.HParamsPluginData.FromString(content[tag])
        which = data.WhichOneof("data")
        if which == "experiment":
            for info in data.experiment.hparam_infos:
                emit("experiment_hparam", info.name, api_pb2.DataType.Name(info.type))
            for info in data.experiment.metric_infos:
                name = info.name.group + "/" + info.name.tag if info.name.group else info.name.tag
                emit("experiment_metric", name)
        elif which == "session_start_info":
            start = data.session_start_info
            for name, value in start.hparams.items():
                kind = value.WhichOneof("kind")
                v = getattr(value, kind)
                if kind == "number_value":
                    v = repr(v)
                elif kind == "bool_value":
                    v = "true" if v else "false"
                emit("session_hparam", name, kind, v)
            emit("session_start_time", repr(start.start_time_secs))
        elif which == "session_end_info":
            end = data.session_end_info
            emit("session_end_status", api_pb2.Status.Name(end.status))
            emit("session_end_time", repr(end.end_time_secs))
        else:
            sys.exit(f"tensorboard_read.py: unexpected hparams plugin data {which!r} under {tag}")
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
