// A page that fails to draw says so in words instead of leaving the screen blank.
import { Component } from "react";

export default class ErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }

  static getDerivedStateFromError(error) {
    return { error };
  }

  componentDidUpdate(previous) {
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="error" role="alert" data-testid="error">
        <strong>This page could not be shown / 화면을 표시할 수 없습니다</strong>
        <p>{String(this.state.error.message || this.state.error)}</p>
      </div>
    );
  }
}
