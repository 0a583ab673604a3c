"""The reports' API shapes: the staffing query (the page reads it too) and its answer."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from routing.models import CHANNELS, Queue


class StaffingQuerySerializer(serializers.Serializer):
    queue = serializers.CharField(max_length=100, help_text=_("The queue's key."))
    channel = serializers.ChoiceField(choices=CHANNELS, required=False, allow_blank=True, help_text=_(
        "Only this channel of the queue; every channel it has work on when left out."))
    week = serializers.DateField(required=False, help_text=_(
        "The week's first day (YYYY-MM-DD, 2000 to 2999) in the desk's time zone; the coming Monday "
        "when left out."))

    def validate_queue(self, key: str) -> Queue:
        queue = Queue.objects.filter(key=key).first()
        if queue is None:
            raise serializers.ValidationError(_("No queue has this key."))
        return queue


class ChannelMeasuresSerializer(serializers.Serializer):
    channel = serializers.CharField()
    handle_seconds = serializers.FloatField(help_text=_("Seconds an answered item was held, on average."))
    handle_measured = serializers.BooleanField(help_text=_(
        "False: nothing was answered in the four weeks before, the handle time is the default."))
    concurrency = serializers.IntegerField(help_text=_("Items an agent holds at once on this channel."))
    patience_seconds = serializers.FloatField(allow_null=True, help_text=_(
        "Mean patience from the measured abandonment (Erlang A); null when nobody abandoned."))


class HourStaffingSerializer(serializers.Serializer):
    date = serializers.DateField(source="day", help_text=_("The local date."))
    hour = serializers.IntegerField(help_text=_("The local hour, 0 to 23."))
    starts_at = serializers.DateTimeField(allow_null=True, help_text=_(
        "When the hour starts (null for an hour a clock change skips)."))
    forecast_arrivals = serializers.FloatField(help_text=_(
        "Work items expected per hour: the same weekday and hour of the last four weeks, weighted 4, 3, 2, 1, "
        "newest first."))
    needed_erlang_c = serializers.IntegerField(help_text=_("Agents needed to meet the target, by Erlang C."))
    needed_erlang_a = serializers.IntegerField(help_text=_(
        "Agents needed to meet the target, by Erlang A with the measured abandonment."))
    online_last_week = serializers.FloatField(allow_null=True, help_text=_(
        "Agents who work this queue online at that hour last week, on average."))
    short = serializers.BooleanField(help_text=_("Fewer online last week than Erlang A needs."))


class StaffingWeekSerializer(serializers.Serializer):
    queue = serializers.CharField(source="queue.key")
    channel = serializers.CharField(help_text=_("The channel asked for; empty for every channel."))
    week = serializers.DateField(source="week_start")
    time_zone = serializers.CharField(help_text=_("The desk's time zone, which the dates and hours are in."))
    target_wait_seconds = serializers.IntegerField(source="queue.target_wait_seconds")
    service_level_target = serializers.FloatField(help_text=_(
        "The share to answer within the target wait (STAFFING_TARGET_SERVICE_LEVEL)."))
    history_end = serializers.DateTimeField(help_text=_("The forecast uses the hours before this moment."))
    channels = ChannelMeasuresSerializer(many=True)
    hours = HourStaffingSerializer(many=True, help_text=_("7 x 24: day by day, each day's hours in order."))
