"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 05:05:56.170664
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('app_users',
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_table('links',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=True),
    sa.Column('institution', sa.String(length=128), nullable=False),
    sa.Column('access_mode', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('resources', sa.JSON(), nullable=False),
    sa.Column('consent', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_links_external_id'), 'links', ['external_id'], unique=False)
    op.create_index(op.f('ix_links_user_id'), 'links', ['user_id'], unique=False)
    op.create_table('webhook_events',
    sa.Column('webhook_id', sa.String(length=64), nullable=False),
    sa.Column('link_id', sa.String(length=36), nullable=True),
    sa.Column('webhook_type', sa.String(length=64), nullable=False),
    sa.Column('webhook_code', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('webhook_id')
    )
    op.create_index('ix_webhook_events_link_id', 'webhook_events', ['link_id'], unique=False)
    op.create_table('widget_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('widget_url', sa.Text(), nullable=True),
    sa.Column('callback_urls', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('link_id', sa.String(length=36), nullable=True),
    sa.Column('institution', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_widget_sessions_external_id'), 'widget_sessions', ['external_id'], unique=False)
    op.create_index(op.f('ix_widget_sessions_user_id'), 'widget_sessions', ['user_id'], unique=False)
    op.create_table('session_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('event', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['widget_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_session_events_session_id'), 'session_events', ['session_id'], unique=False)
    


def downgrade() -> None:
    
    op.drop_index(op.f('ix_session_events_session_id'), table_name='session_events')
    op.drop_table('session_events')
    op.drop_index(op.f('ix_widget_sessions_user_id'), table_name='widget_sessions')
    op.drop_index(op.f('ix_widget_sessions_external_id'), table_name='widget_sessions')
    op.drop_table('widget_sessions')
    op.drop_index('ix_webhook_events_link_id', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_index(op.f('ix_links_user_id'), table_name='links')
    op.drop_index(op.f('ix_links_external_id'), table_name='links')
    op.drop_table('links')
    op.drop_table('app_users')
    
