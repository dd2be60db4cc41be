"""REST API: one view per operation; validate → authorize → call one service → serialize."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases import selectors


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        roles = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        is_admin = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer, summary="Who am I: my teams and roles")
    def get(self, request: Request) -> Response:
        teams = {t.id: t.name for t in selectors.teams_for_user(user=request.user)}
        roles = {
            teams[team_id]: sorted(r)
            for team_id, r in selectors.roles_by_team(user=request.user).items()
            if team_id in teams
        }
        data = {
            "username": request.user.get_username(),
            "roles": roles,
            "is_admin": selectors.user_is_admin(user=request.user),
        }
        return Response(self.OutputSerializer(data).data)
