"""The stages of :func:`engine.identify.identify`, one module each.

In the spirit of pyannote's ``SpeakerDiarization`` pipeline, every stage is a small
function or class with typed inputs and frozen outputs (read-only arrays):

=====================  ==========================================================
module                 stage
=====================  ==========================================================
``source``             audio (array or streamed file) -> 10 s chunks
``runtime``            model calls on a worker thread (cancel), batch pacing
``segment``            chunks -> local speaker activity (segmentation-3.0)
``linking``            local speakers linked across chunks into *units*
``embedding``          one diarization-model embedding per unit
``clustering``         units -> the recording's speaker clusters
``cluster_voiceprint``  each cluster's most typical speech -> voiceprint-model embedding
``assignment``         clusters scored against the voiceprints, names given
``reconstruction``     clusters' activity overlap-added on the global frame grid
``turns``              active frames -> turns, labels, cluster info
``confidence``         per-frame confidence track and per-voiceprint curves
``result``             :class:`IdentificationResult`, :class:`ClusterInfo`
=====================  ==========================================================

Only :mod:`engine.identify` wires them together; the stages do not import each other
except for shared types.
"""
